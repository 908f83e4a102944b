using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Fanout;

/// <summary>A room event on its way out: serialized at most once per hub protocol, however many members receive it.</summary>
internal sealed class OutgoingEvent(RoomEvent roomEvent)
{
    private SerializedHubMessage? _hubMessage;
    private SerializedHubMessage? _withoutText;
    private SerializedHubMessage? _compact;
    private byte[]? _json;

    public RoomEvent Event { get; } = roomEvent;

    public SerializedHubMessage HubMessage => _hubMessage ?? Interlocked.CompareExchange(ref _hubMessage, Create(Event), null) ?? _hubMessage;

    /// <summary>
    /// The message for a connection that asked for <c>finalText=omit</c>: a final status without
    /// its text (the client has it from the deltas); any other event as it is.
    /// </summary>
    public SerializedHubMessage HubMessageWithoutFinalText =>
        Event is StatusEvent { IsFinal: true, Text: not null } status
            ? _withoutText ?? Interlocked.CompareExchange(ref _withoutText, Create(status with { Text = null }), null) ?? _withoutText
            : HubMessage;

    /// <summary>
    /// The message for a connection that asked for <c>tokens=compact</c>: a token delta as
    /// <c>t(roomId, seq, text)</c>, or joined deltas as <c>tr(roomId, seq, text, firstSeq)</c>, plain
    /// positional arguments on either protocol; built only when such a connection receives one.
    /// </summary>
    public SerializedHubMessage CompactHubMessage =>
        Event is TokenEvent token
            ? _compact ?? Interlocked.CompareExchange(ref _compact, CreateCompact(token), null) ?? _compact
            : HubMessage;

    /// <summary>The payload as JSON (camelCase, as on the hub), for the plain HTTP streams.</summary>
    public byte[] Json => _json ?? Interlocked.CompareExchange(ref _json, ChatJson.Serialize(Event), null) ?? _json;

    private static SerializedHubMessage Create(RoomEvent roomEvent) => new(new InvocationMessage(roomEvent.Kind, [roomEvent]));

    private static SerializedHubMessage CreateCompact(TokenEvent token) => new(token.FirstSeq is { } firstSeq
        ? new InvocationMessage(ChatProtocol.CompactEvents.TokenRun, [token.RoomId, token.Seq, token.Text, firstSeq])
        : new InvocationMessage(ChatProtocol.CompactEvents.Token, [token.RoomId, token.Seq, token.Text]));
}

/// <summary>Something a room delivers its events to: a hub connection, an SSE response.</summary>
internal interface IRoomSubscriber
{
    string Id { get; }

    /// <summary>The user reading, for a hub connection; null for a plain HTTP stream, which gets no ephemeral events (typing).</summary>
    string? UserId => null;

    /// <summary>Hands the event over without waiting for the reader; slow readers buffer or coalesce on their own.</summary>
    void Deliver(OutgoingEvent outgoing);

    /// <summary>The reader's position in the room was set anew (a rejoin, a resume): later deltas must not join what already waits.</summary>
    void Seal();
}
