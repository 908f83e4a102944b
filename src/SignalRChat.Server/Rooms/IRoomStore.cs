using SignalRChat.Contracts;

namespace SignalRChat.Server.Rooms;

/// <summary>Outcome of asking to enter a room.</summary>
public enum RoomEntry
{
    Entered,
    NotInvited,
}

/// <summary>Outcome of <see cref="IRoomStore.CreateRoomAsync"/>.</summary>
public enum RoomCreation
{
    Created,
    AlreadyYours,
    TakenByOther,
}

/// <summary>Outcome of <see cref="IRoomStore.InviteAsync"/>.</summary>
public enum RoomInvitation
{
    Invited,
    AlreadyInvited,

    /// <summary>The room's list already holds the most invitations allowed; nothing changed.</summary>
    RoomFull,

    /// <summary>The person already has the most pending invitations allowed; nothing changed.</summary>
    InviteeFull,

    /// <summary>The room does not exist (any more).</summary>
    NoRoom,
}

/// <summary>Events after a seq, or <see cref="Reset"/> when that seq has left the log's window.</summary>
public sealed record EventRange(bool Reset, long LastSeq, IReadOnlyList<RoomEvent> Events);

/// <summary>
/// Room state and each room's ordered event stream. Appending takes the next seq, applies the
/// event to the room's state (history, in-flight reply, presence), keeps it in the bounded log
/// and publishes it on the <see cref="IRoomEventBus"/>, in seq order. Two implementations:
/// in memory (default) and Redis.
/// </summary>
public interface IRoomStore
{
    ValueTask<RoomEvent> AppendAsync(RoomEvent roomEvent, CancellationToken cancellationToken = default);

    ValueTask<RoomCreation> CreateRoomAsync(string roomId, string userId, string visibility, CancellationToken cancellationToken = default);

    /// <summary>Adds the connection to the room (an unknown room becomes a public room this user created); presence <c>joined</c> when it is the user's first.</summary>
    ValueTask<RoomEntry> EnterAsync(string roomId, RoomMember member, string connectionId, CancellationToken cancellationToken = default);

    /// <summary>Removes the connection; presence <c>left</c> when it was the user's last. An explicit leave also ends membership.</summary>
    ValueTask ExitAsync(string roomId, string userId, string connectionId, bool endMembership, CancellationToken cancellationToken = default);

    /// <summary>Makes the user a member without a connection (a plain HTTP client); no presence event.</summary>
    ValueTask<RoomEntry> EnsureMemberAsync(string roomId, RoomMember member, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds the user to the room's invitation list unless it already holds <paramref name="maxPerRoom"/> others (checked in the
    /// same step as the write). The store that keeps the record also refuses a person with <paramref name="maxPendingPerUser"/>
    /// invitations to other rooms they have not joined; a hot store alone ignores it.
    /// </summary>
    ValueTask<RoomInvitation> InviteAsync(string roomId, string userId, int maxPerRoom, int maxPendingPerUser, CancellationToken cancellationToken = default);

    /// <summary>True when the user has joined the room and not left it (connected or not).</summary>
    ValueTask<bool> IsMemberAsync(string roomId, string userId, CancellationToken cancellationToken = default);

    /// <summary>True when the user may enter the room (it is public or unknown, or they created it or were invited).</summary>
    ValueTask<bool> MayEnterAsync(string roomId, string userId, CancellationToken cancellationToken = default);

    ValueTask<RoomSnapshot> GetSnapshotAsync(string roomId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The events after <paramref name="afterSeq"/>, at most <paramref name="limit"/> of them (a page: the
    /// caller reads on from the last one while it is short of <see cref="EventRange.LastSeq"/>).
    /// </summary>
    ValueTask<EventRange> ReadAfterAsync(string roomId, long afterSeq, int limit = int.MaxValue, CancellationToken cancellationToken = default);

    /// <summary>True when the room exists, so entering it would not bring it into being.</summary>
    ValueTask<bool> ExistsAsync(string roomId, CancellationToken cancellationToken = default);

    ValueTask<IReadOnlyList<ChatMessage>> GetHistoryAsync(string roomId, int maxMessages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Rebuilds a room's hot state from the record when this store does not know the room (after a
    /// restart): who may enter, who belongs, the newest messages, and seq continuing at <see cref="RestoredRoom.LastSeq"/>.
    /// False when the room was already there (nothing changes); with Redis, of several nodes restoring at once one writes.
    /// </summary>
    ValueTask<bool> RestoreAsync(RestoredRoom room, CancellationToken cancellationToken = default);

    /// <summary>The room's settings and the reply generating in it now (or null), as one read.</summary>
    ValueTask<RoomActivity> GetActivityAsync(string roomId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends an ephemeral <c>typing</c> event to the room's members on every node: no seq, not logged. At most one per
    /// user and room per <paramref name="interval"/>, counted where the room's state lives (so across nodes with Redis).
    /// </summary>
    ValueTask<TypingOutcome> PublishTypingAsync(TypingEvent typing, TimeSpan interval, CancellationToken cancellationToken = default);

    /// <summary>
    /// Merges <paramref name="update"/> into the room's settings and appends a <c>roomSettings</c> event, in one step;
    /// null when <paramref name="by"/> may not change them (unless <paramref name="checkPermission"/> is false: the assistant's own tool).
    /// </summary>
    ValueTask<RoomSettings?> UpdateSettingsAsync(string roomId, RoomSettingsUpdate update, RoomMember by, bool checkPermission, CancellationToken cancellationToken = default);
}

/// <summary>A room as the record has it, to rebuild its hot state from.</summary>
public sealed record RestoredRoom(
    string RoomId,
    string Visibility,
    string? CreatorId,
    IReadOnlyList<string> Invited,
    IReadOnlyList<RoomMember> Members,
    IReadOnlyList<ChatMessage> History,
    long LastSeq)
{
    /// <summary>The room's settings as last recorded.</summary>
    public RoomSettings Settings { get; init; } = RoomSettings.Default;
}

/// <summary>
/// A hot store that can lose a room's state while the node runs (Redis flushed, restarted without its data, or
/// the room's keys expired): when an operation finds a room absent, it asks <c>rebuild</c> whether the room is
/// recorded (and so rebuilt through <see cref="IRoomStore.RestoreAsync"/>) before treating it as a new room.
/// </summary>
public interface IRoomStateLoss
{
    void RebuildFrom(Func<string, Task<bool>> rebuild);
}

/// <summary>Outcome of <see cref="IRoomStore.PublishTypingAsync"/>.</summary>
public enum TypingOutcome
{
    Sent,

    /// <summary>The user's last typing event in the room went out less than the interval ago.</summary>
    Throttled,
    NotMember,
}

/// <summary>A room's settings and the id of the reply generating in it now, if any.</summary>
public sealed record RoomActivity(RoomSettings Settings, string? ActiveGenerationId);

/// <summary>Carries each room's appended events, in seq order, to this node's subscribers.</summary>
public interface IRoomEventBus
{
    void Subscribe(Action<RoomEvent> handler);

    /// <summary>Starts receiving a room's events on this node; done before a snapshot is taken, so nothing falls between.</summary>
    Task WatchAsync(string roomId);

    /// <summary>
    /// This node no longer holds the room (no member, stream or reply here for a while): stop receiving
    /// its events and let go of whatever is kept for it on this node. A later <see cref="WatchAsync"/> starts afresh.
    /// </summary>
    Task UnwatchAsync(string roomId);
}
