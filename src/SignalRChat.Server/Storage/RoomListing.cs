namespace SignalRChat.Server.Storage;

/// <summary>One of a user's rooms as the record sees it.</summary>
internal sealed record RoomListing(
    string RoomId,
    string Visibility,
    DateTimeOffset LastActivity,
    StoredMessage? LastMessage,
    int MemberCount,
    long LastSeq,
    long ReadSeq,
    int Unread);
