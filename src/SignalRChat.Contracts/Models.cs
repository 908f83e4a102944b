using System.Text.Json.Serialization;

namespace SignalRChat.Contracts;

/// <summary>A message in a room's history.</summary>
public sealed record ChatMessage(
    string MessageId,
    long Seq,
    string AuthorId,
    string AuthorName,
    string Role,
    string Text,
    string State,
    DateTimeOffset CreatedAt)
{
    /// <summary>For a regenerated reply: the id of the reply it replaces.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Regenerates { get; init; }

    /// <summary>For an assistant reply: the id of the user message it answers.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ReplyTo { get; init; }

    /// <summary>For a cancelled reply stopped by a member: who stopped it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RoomMember? CancelledBy { get; init; }
}

/// <summary>A user present in a room.</summary>
public sealed record RoomMember(string UserId, string Name);

/// <summary>The reply being generated in a room, as of the snapshot's <c>lastSeq</c>.</summary>
public sealed record ActiveGeneration(string GenerationId, string MessageId, string Text, string State);

/// <summary>What <c>JoinRoom</c> and <c>CreateRoom</c> return.</summary>
public sealed record RoomSnapshot(
    string RoomId,
    long LastSeq,
    IReadOnlyList<RoomMember> Members,
    IReadOnlyList<ChatMessage> Messages,
    ActiveGeneration? ActiveGeneration)
{
    /// <summary>True when the room has messages older than the snapshot's (page back with <c>GetHistory</c>).</summary>
    public bool HasMore { get; init; }

    /// <summary>The room's settings as of <c>lastSeq</c>.</summary>
    public RoomSettings Settings { get; init; } = RoomSettings.Default;

    /// <summary>
    /// Extension: the tool calls of the running reply that wait for a member's decision as of <c>lastSeq</c> (their
    /// <c>toolApproval</c> events, state <c>pending</c>), so that a member who joins while one waits can decide it.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ToolApprovalEvent>? PendingApprovals { get; init; }
}

/// <summary>What <c>SendMessage</c> and <c>Regenerate</c> return at once; no generation when the message starts no reply (a <c>mentioned</c> room).</summary>
public sealed record SendMessageResult(string MessageId, string? GenerationId);

/// <summary>What <c>Resume</c> returns.</summary>
public sealed record ResumeResult(string RoomId, long FromSeq, long ToSeq, bool Reset);

/// <summary>The options of <c>CreateRoom</c>.</summary>
public sealed record CreateRoomOptions(string? Visibility);

/// <summary>Token counts reported by the model provider.</summary>
public sealed record UsageInfo(long InputTokens, long OutputTokens);

/// <summary>What <c>POST /api/auth/guest</c> returns.</summary>
public sealed record GuestSession(string Token, string UserId, string Name);
