using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Fanout;

/// <summary>
/// A room event on its way out: serialized at most once per hub protocol, however many members receive it.
/// <paramref name="roomNumber"/> is the room's number on this node, which compact token deltas carry instead of the room id.
/// </summary>
internal sealed class OutgoingEvent(RoomEvent roomEvent, int roomNumber = 0)
{
    private SerializedHubMessage? _hubMessage;
    private SerializedHubMessage? _withoutText;
    private SerializedHubMessage? _compact;
    private byte[]? _json;

    public RoomEvent Event { get; } = roomEvent;

    /// <summary>The room's number on this node (<see cref="RoomNumbers"/>); 0 for an event not delivered by a room's loop.</summary>
    public int RoomNumber { get; } = roomNumber;

    /// <summary>
    /// <c>rn(roomId, number)</c> for a <c>tokens=compact</c> connection: from here on, on this connection, compact deltas
    /// whose first argument is <paramref name="number"/> belong to <paramref name="roomId"/>. It always goes out before
    /// the room's first compact delta, in the same ordered stream.
    /// </summary>
    public static OutgoingEvent RoomNumbered(string roomId, int number) => new(new RoomNumberEvent(roomId, number), number);

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
    /// <c>t(roomNumber, seq, text)</c>, or joined deltas as <c>tr(roomNumber, seq, text, firstSeq)</c>, plain
    /// positional arguments on either protocol; built only when such a connection receives one.
    /// </summary>
    public SerializedHubMessage CompactHubMessage =>
        Event is TokenEvent token
            ? _compact ?? Interlocked.CompareExchange(ref _compact, CreateCompact(token), null) ?? _compact
            : HubMessage;

    /// <summary>The payload as JSON (camelCase, as on the hub), for the plain HTTP streams.</summary>
    public byte[] Json => _json ?? Interlocked.CompareExchange(ref _json, ChatJson.Serialize(Event), null) ?? _json;

    private static SerializedHubMessage Create(RoomEvent roomEvent) => new(roomEvent is RoomNumberEvent numbered
        ? new InvocationMessage(ChatProtocol.CompactEvents.RoomNumber, [numbered.RoomId, numbered.Number])
        : new InvocationMessage(roomEvent.Kind, [roomEvent]));

    private SerializedHubMessage CreateCompact(TokenEvent token) => new(token.FirstSeq is { } firstSeq
        ? new InvocationMessage(ChatProtocol.CompactEvents.TokenRun, [RoomNumber, token.Seq, token.Text, firstSeq])
        : new InvocationMessage(ChatProtocol.CompactEvents.Token, [RoomNumber, token.Seq, token.Text]));

    /// <summary>Not a room event of the contract: the <c>rn</c> announcement, only ever delivered to a <c>tokens=compact</c> hub connection.</summary>
    private sealed record RoomNumberEvent(string RoomId, int Number) : RoomEvent(RoomId);
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

    /// <summary>The reader starts receiving a room that has <paramref name="number"/> on this node; called before its first event.</summary>
    void Numbered(string roomId, int number)
    {
    }
}
