using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalRChat.Contracts;

/// <summary>A tool call that waits for a member's decision (<c>pending</c>), and how it was decided.</summary>
public sealed record ToolApprovalEvent(
    string RoomId,
    string GenerationId,
    string ApprovalId,
    string CallId,
    string Tool,
    JsonElement Arguments,
    string State) : RoomEvent(RoomId)
{
    /// <summary>The member who approved or denied it; absent while pending and when it expired.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RoomMember? DecidedBy { get; init; }
}
