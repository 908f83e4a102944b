using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Fanout;

/// <summary>A room event on its way out: serialized at most once per hub protocol, however many members receive it.</summary>
internal sealed class OutgoingEvent(RoomEvent roomEvent)
{
    private SerializedHubMessage? _hubMessage;
    private byte[]? _json;

    public RoomEvent Event { get; } = roomEvent;

    public SerializedHubMessage HubMessage => _hubMessage ?? Interlocked.CompareExchange(ref _hubMessage, Create(Event), null) ?? _hubMessage;

    /// <summary>The payload as JSON (camelCase, as on the hub), for the plain HTTP streams.</summary>
    public byte[] Json => _json ?? Interlocked.CompareExchange(ref _json, ChatJson.Serialize(Event), null) ?? _json;

    private static SerializedHubMessage Create(RoomEvent roomEvent) => new(new InvocationMessage(roomEvent.Kind, [roomEvent]));
}

/// <summary>Something a room delivers its events to: a hub connection, an SSE response.</summary>
internal interface IRoomSubscriber
{
    string Id { get; }

    /// <summary>Hands the event over without waiting for the reader; slow readers buffer or coalesce on their own.</summary>
    void Deliver(OutgoingEvent outgoing);
}
