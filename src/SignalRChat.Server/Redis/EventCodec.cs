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

    /// <summary>Reads <c>kind|json</c> (as published) or <c>time|kind|json</c> (as logged).</summary>
    public static RoomEvent Decode(string payload, bool logged = false)
    {
        var start = logged ? payload.IndexOf('|') + 1 : 0;
        var bar = payload.IndexOf('|', start);
        var kind = payload[start..bar];
        var json = payload.AsSpan(bar + 1);
        return kind switch
        {
            ChatProtocol.Events.Message => (RoomEvent?)JsonSerializer.Deserialize<MessageEvent>(json, ChatJson.Options),
            ChatProtocol.Events.Token => JsonSerializer.Deserialize<TokenEvent>(json, ChatJson.Options),
            ChatProtocol.Events.ToolProgress => JsonSerializer.Deserialize<ToolProgressEvent>(json, ChatJson.Options),
            ChatProtocol.Events.Status => JsonSerializer.Deserialize<StatusEvent>(json, ChatJson.Options),
            ChatProtocol.Events.Presence => JsonSerializer.Deserialize<PresenceEvent>(json, ChatJson.Options),
            ChatProtocol.Events.RoomSettings => JsonSerializer.Deserialize<RoomSettingsEvent>(json, ChatJson.Options),
            ChatProtocol.Events.ToolApproval => JsonSerializer.Deserialize<ToolApprovalEvent>(json, ChatJson.Options),
            ChatProtocol.Events.Typing => JsonSerializer.Deserialize<TypingEvent>(json, ChatJson.Options),
            _ => null,
        } ?? throw new InvalidDataException($"unknown room event '{kind}' in Redis");
    }

    private sealed record StatusHint(string Gen, string? Msg, string State, bool Final, string? Text, string? MessageState, RoomMember? CancelledBy = null);
}
