using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Redis;

/// <summary>
/// The wire format of room events in Redis, in one place: the log and the room channel carry
/// <c>kind|json</c>. Before a seq exists the JSON carries <c>"seq":-1</c>, which the append
/// script replaces with the seq it takes; a hint tells the script how the event changes the room.
/// </summary>
internal static class EventCodec
{
    private static readonly JsonSerializerOptions HintOptions = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = ChatJson.Encoder,
    };

    public static string Template(RoomEvent roomEvent)
    {
        var unnumbered = roomEvent.Numbered(-1);
        return JsonSerializer.Serialize(unnumbered, unnumbered.GetType(), ChatJson.Options);
    }

    public static string Hint(RoomEvent roomEvent)
    {
        object hint = roomEvent switch
        {
            MessageEvent m => new { message = JsonSerializer.Serialize(m.Message with { Seq = -1 }, ChatJson.Options) },
            TokenEvent t => new { gen = t.GenerationId, token = t.Text },
            StatusEvent s => new StatusHint(s.GenerationId, s.MessageId, s.State, s.IsFinal, s.IsFinal ? s.Text : null, s.IsFinal ? MessageStates.AfterGeneration(s.State) : null, s.CancelledBy),
            _ => new { },
        };
        return JsonSerializer.Serialize(hint, HintOptions);
    }

    /// <summary>
    /// Reads <c>kind|json</c> (as published) or <c>time|kind|json</c> (as logged) from the bytes Redis sent, which the JSON
    /// reader takes as they are (no string of the whole message first).
    /// </summary>
    public static RoomEvent Decode(ReadOnlySpan<byte> payload, bool logged = false)
    {
        if (logged)
        {
            payload = payload[(payload.IndexOf((byte)'|') + 1)..];
        }

        var bar = payload.IndexOf((byte)'|');
        if (bar < 0)
        {
            throw new InvalidDataException("a room event in Redis without its kind");
        }

        var kind = payload[..bar];
        var json = payload[(bar + 1)..];
        return (Is(kind, ChatProtocol.Events.Token) ? JsonSerializer.Deserialize<TokenEvent>(json, ChatJson.Options)
            : Is(kind, ChatProtocol.Events.Status) ? JsonSerializer.Deserialize<StatusEvent>(json, ChatJson.Options)
            : Is(kind, ChatProtocol.Events.ToolProgress) ? JsonSerializer.Deserialize<ToolProgressEvent>(json, ChatJson.Options)
            : Is(kind, ChatProtocol.Events.Message) ? JsonSerializer.Deserialize<MessageEvent>(json, ChatJson.Options)
            : Is(kind, ChatProtocol.Events.Presence) ? JsonSerializer.Deserialize<PresenceEvent>(json, ChatJson.Options)
            : Is(kind, ChatProtocol.Events.RoomSettings) ? JsonSerializer.Deserialize<RoomSettingsEvent>(json, ChatJson.Options)
            : Is(kind, ChatProtocol.Events.ToolApproval) ? JsonSerializer.Deserialize<ToolApprovalEvent>(json, ChatJson.Options)
            : Is(kind, ChatProtocol.Events.Typing) ? JsonSerializer.Deserialize<TypingEvent>(json, ChatJson.Options)
            : (RoomEvent?)null)
            ?? throw new InvalidDataException($"unknown room event '{Encoding.UTF8.GetString(kind)}' in Redis");

        static bool Is(ReadOnlySpan<byte> kind, string name) => Ascii.Equals(kind, name);
    }

    private sealed record StatusHint(string Gen, string? Msg, string State, bool Final, string? Text, string? MessageState, RoomMember? CancelledBy = null);
}
