namespace SignalRChat.Server.Storage;

/// <summary>
/// The durable record of rooms, memberships, invitations and every message. It only moves data:
/// ordering, batching and retrying are <see cref="ChatRecordWriter"/>'s, and what to write is the rooms' concern.
/// Three implementations: SQLite (default), PostgreSQL and memory.
/// </summary>
internal interface IChatRecord
{
    /// <summary>What the record is, with the setting that chooses it, for messages: "SQLite at /srv/data/signalrchat.db (ConnectionStrings:Sqlite)".</summary>
    string Description { get; }

    public const int PreviewLength = 200;

    /// <summary>Creates or updates the schema to the newest version (returns the versions applied); throws <see cref="ChatRecordUnavailableException"/> when it cannot.</summary>
    Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Applies the writes in order, all or none.</summary>
    Task WriteAsync(IReadOnlyList<RecordWrite> writes, CancellationToken cancellationToken);

    Task<StoredRoom?> FindRoomAsync(string roomId, CancellationToken cancellationToken);

    /// <summary>At most <paramref name="limit"/> messages with seq below <paramref name="beforeSeq"/> (null: the newest), oldest first.</summary>
    Task<MessagePage> GetMessagesAsync(string roomId, long? beforeSeq, int limit, CancellationToken cancellationToken);

    /// <summary>The rooms the user belongs to (joined and not left, created, or invited to), most recent activity first; the last message's text cut to <see cref="PreviewLength"/>.</summary>
    Task<IReadOnlyList<RoomListing>> ListRoomsAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// How many rooms other than <paramref name="exceptRoomId"/> the user is invited to and has never joined: the invitations
    /// still waiting for them (joining a room uses its invitation up, leaving again does not give it back to the count).
    /// </summary>
    Task<int> CountPendingInvitationsAsync(string userId, string exceptRoomId, CancellationToken cancellationToken);

    /// <summary>Everyone the room belongs to (members, its creator, those invited) and how many messages of others they have not read.</summary>
    Task<IReadOnlyList<(string UserId, int Unread)>> GetUnreadAsync(string roomId, CancellationToken cancellationToken);

    /// <summary>Replies still <c>generating</c> become <c>failed</c> with <paramref name="error"/>, keeping their checkpointed text; returns how many.</summary>
    Task<int> FailInterruptedAsync(string error, CancellationToken cancellationToken);

    /// <summary>Removes finished messages created before <paramref name="cutoff"/>; returns how many.</summary>
    Task<int> RemoveMessagesBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
