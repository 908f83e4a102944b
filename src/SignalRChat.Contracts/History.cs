namespace SignalRChat.Contracts;

/// <summary>What <c>GetHistory</c> and <c>GET /api/rooms/{roomId}/messages</c> return: messages oldest first, and whether older ones exist.</summary>
public sealed record HistoryPage(string RoomId, IReadOnlyList<ChatMessage> Messages, bool HasMore);

/// <summary>The newest message of a room, its text cut to 200 characters.</summary>
public sealed record MessagePreview(string AuthorName, string Text, DateTimeOffset CreatedAt);

/// <summary>One of the caller's rooms, as <c>ListRooms</c> and <c>GET /api/rooms</c> list them.</summary>
public sealed record RoomSummary(
    string RoomId,
    string Visibility,
    DateTimeOffset LastActivity,
    MessagePreview? LastMessage,
    int MemberCount,
    int Unread,
    long LastSeq);

/// <summary>User event <c>roomActivity</c>: a room the user belongs to has a new message.</summary>
public sealed record RoomActivityEvent(string RoomId, DateTimeOffset LastActivity, MessagePreview LastMessage, int Unread);

/// <summary>User event <c>invited</c>: the user was invited to a room.</summary>
public sealed record InvitedEvent(string RoomId, string Visibility, RoomMember InvitedBy);

/// <summary>User event <c>readMark</c>: the user read a room up to <see cref="Seq"/> (on any of their connections).</summary>
public sealed record ReadMarkEvent(string RoomId, long Seq);
