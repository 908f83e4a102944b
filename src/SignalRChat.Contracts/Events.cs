using System.Text.Json.Serialization;

namespace SignalRChat.Contracts;

/// <summary>An event of a room's ordered stream; <see cref="Seq"/> is contiguous per room from 1.</summary>
public abstract record RoomEvent(string RoomId)
{
    /// <summary>The room's sequence number of this event, assigned when it is appended; 0 (and left out) for an ephemeral event.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Seq { get; init; }

    /// <summary>True for an event that takes no seq and is never logged (<c>typing</c>).</summary>
    [JsonIgnore]
    public bool IsEphemeral => this is TypingEvent;

    /// <summary>The first seq this event stands for: its own, or for joined token deltas the first of them (<c>firstSeq</c>).</summary>
    [JsonIgnore]
    public long FirstCoveredSeq => this is TokenEvent { FirstSeq: { } first } ? first : Seq;

    /// <summary>The event name on the wire (<c>message</c>, <c>token</c>, ...).</summary>
    [JsonIgnore]
    public string Kind => this switch
    {
        MessageEvent => ChatProtocol.Events.Message,
        TokenEvent => ChatProtocol.Events.Token,
        ToolProgressEvent => ChatProtocol.Events.ToolProgress,
        StatusEvent => ChatProtocol.Events.Status,
        PresenceEvent => ChatProtocol.Events.Presence,
        RoomSettingsEvent => ChatProtocol.Events.RoomSettings,
        ToolApprovalEvent => ChatProtocol.Events.ToolApproval,
        TypingEvent => ChatProtocol.Events.Typing,
        _ => throw new InvalidOperationException($"unknown room event {GetType().Name}"),
    };

    /// <summary>This event with its seq (a message event's message carries the same seq).</summary>
    public RoomEvent Numbered(long seq) => this switch
    {
        MessageEvent m => m with { Seq = seq, Message = m.Message with { Seq = seq } },
        _ => this with { Seq = seq },
    };
}

/// <summary>A user message, or an assistant message as it starts.</summary>
public sealed record MessageEvent(string RoomId, ChatMessage Message) : RoomEvent(RoomId);

/// <summary>A text delta of a reply, never the whole text so far.</summary>
public sealed record TokenEvent(string RoomId, string GenerationId, string Text) : RoomEvent(RoomId)
{
    /// <summary>Set when several deltas were joined into this one event: the seq of the first of them.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? FirstSeq { get; init; }
}

/// <summary>A tool's progress within a generation.</summary>
public sealed record ToolProgressEvent(
    string RoomId,
    string GenerationId,
    string CallId,
    string Tool,
    string Phase,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Progress = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail = null) : RoomEvent(RoomId)
{
    /// <summary>On phase <c>started</c>: the call's whole arguments as one JSON object, once the model sent them all.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public System.Text.Json.JsonElement? Arguments { get; init; }
}

/// <summary>A generation's state; the final one carries the whole reply in <see cref="Text"/>.</summary>
public sealed record StatusEvent(
    string RoomId,
    string GenerationId,
    string State,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageInfo? Usage = null) : RoomEvent(RoomId)
{
    /// <summary>The assistant message of this generation, once it exists.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MessageId { get; init; }

    /// <summary>True when this status ends its generation.</summary>
    [JsonIgnore]
    public bool IsFinal => GenerationStates.IsFinal(State);

    /// <summary>On a <c>cancelled</c> status: the member who stopped the reply, or null when the server stopped it (written as null, never left out).</summary>
    public RoomMember? CancelledBy { get; init; }

    /// <summary>On a <c>cancelled</c> status: why it stopped, one of <see cref="CancelReasons"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Reason { get; init; }

    /// <summary>On a final status: something the room should know about how the reply was made (e.g. written without the room's history).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Note { get; init; }
}

/// <summary>A user came into or went out of a room.</summary>
public sealed record PresenceEvent(string RoomId, string UserId, string Name, string State) : RoomEvent(RoomId);
