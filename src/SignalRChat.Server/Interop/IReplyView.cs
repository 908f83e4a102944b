using SignalRChat.Contracts;

namespace SignalRChat.Server.Interop;

/// <summary>
/// One reply of a room, told in another protocol's events: the room events of that reply go in
/// in seq order, the protocol's events come out on an <see cref="SseWriter"/>.
/// </summary>
internal interface IReplyView
{
    /// <summary>Tells one room event of the reply; true once the reply has ended (its final status).</summary>
    bool Apply(RoomEvent roomEvent, SseWriter writer);

    /// <summary>The reader fell too far behind and its stream ends; the reply goes on in the room.</summary>
    void Overflowed(SseWriter writer);

    /// <summary>The stream's last words, after the end or an overflow.</summary>
    void Close(SseWriter writer);
}
