namespace SignalRChat.Server.Storage;

/// <summary>A room as the record keeps it, with who may enter it and who belongs to it.</summary>
internal sealed record StoredRoom(
    string RoomId,
    string Visibility,
    string? CreatorId,
    DateTimeOffset CreatedAt,
    string? Settings,
    long LastSeq,
    IReadOnlyList<string> Invited,
    IReadOnlyList<StoredMember> Members);

/// <summary>A membership of a room: <see cref="Left"/> once the user left it; <see cref="ReadSeq"/> is how far they read.</summary>
internal sealed record StoredMember(string UserId, string Name, bool Left, long ReadSeq);
