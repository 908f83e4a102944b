namespace SignalRChat.Contracts;

/// <summary>A member is typing. Ephemeral: it takes no seq, is not logged and is never replayed.</summary>
public sealed record TypingEvent(string RoomId, string UserId, string Name) : RoomEvent(RoomId);
