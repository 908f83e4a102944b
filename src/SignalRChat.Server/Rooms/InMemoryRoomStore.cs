using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Rooms;

/// <summary>
/// The default store: every room in this process, each guarded by its own lock. A room with history
/// is the record and stays; an empty one (see <see cref="RoomState.IsEmpty"/>) is forgotten once this
/// node lets it go, so joining and leaving made-up rooms leaves nothing behind.
/// </summary>
internal sealed class InMemoryRoomStore(IOptions<RoomOptions> options, TimeProvider time) : IRoomStore, IRoomEventBus
{
    private readonly ConcurrentDictionary<string, RoomState> _rooms = new(StringComparer.Ordinal);
    private readonly RoomOptions _options = options.Value;
    private Action<RoomEvent>? _subscribers;

    public void Subscribe(Action<RoomEvent> handler) => _subscribers += handler;

    public Task WatchAsync(string roomId) => Task.CompletedTask;

    /// <summary>Rooms held in memory, for tests and metrics.</summary>
    public int RoomCount => _rooms.Count;

    public Task UnwatchAsync(string roomId)
    {
        if (_rooms.TryGetValue(roomId, out var room))
        {
            lock (room)
            {
                if (room.IsEmpty)
                {
                    room.Forgotten = true;
                    _rooms.TryRemove(new KeyValuePair<string, RoomState>(roomId, room));
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Trims every room's event log by age, so a room nobody writes to does not keep its log.</summary>
    public void TrimLogs()
    {
        var now = time.GetUtcNow();
        foreach (var room in _rooms.Values)
        {
            lock (room)
            {
                room.TrimLog(now, _options);
            }
        }
    }

    public ValueTask<bool> ExistsAsync(string roomId, CancellationToken cancellationToken = default) => ValueTask.FromResult(_rooms.ContainsKey(roomId));

    public ValueTask<RoomEvent> AppendAsync(RoomEvent roomEvent, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Locked(roomEvent.RoomId, null, (Store: this, Event: roomEvent), static (room, state) => state.Store.AppendLocked(room, state.Event)));

    // Publishing inside the room's lock is what keeps every subscriber's view in seq order; the room loops it
    // wakes run once the lock is let go (WakeAfterLock, opened by every caller of this).
    private RoomEvent AppendLocked(RoomState room, RoomEvent roomEvent)
    {
        var appended = room.Append(roomEvent, time.GetUtcNow(), _options);
        _subscribers?.Invoke(appended);
        return appended;
    }

    public ValueTask<RoomCreation> CreateRoomAsync(string roomId, string userId, string visibility, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            // Only the instance that GetOrAdd kept counts: a factory that ran and lost a race created nothing.
            RoomState? made = null;
            var room = _rooms.GetOrAdd(roomId, id => made = new RoomState(id, visibility, userId) { CreatedExplicitly = true });
            if (ReferenceEquals(room, made))
            {
                return ValueTask.FromResult(RoomCreation.Created);
            }

            lock (room)
            {
                // Visibility and creator never change after creation; the lock only tells whether the room was just forgotten.
                if (!room.Forgotten)
                {
                    return ValueTask.FromResult(room.CreatorId == userId && room.Visibility == visibility ? RoomCreation.AlreadyYours : RoomCreation.TakenByOther);
                }
            }
        }
    }

    public ValueTask<RoomEntry> EnterAsync(string roomId, RoomMember member, string connectionId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Locked(roomId, member.UserId, room =>
        {
            if (!room.MayEnter(member.UserId))
            {
                return RoomEntry.NotInvited;
            }

            if (room.AddConnection(member, connectionId))
            {
                AppendLocked(room, new PresenceEvent(roomId, member.UserId, member.Name, PresenceStates.Joined));
            }

            return RoomEntry.Entered;
        }));

    public ValueTask ExitAsync(string roomId, string userId, string connectionId, bool endMembership, CancellationToken cancellationToken = default)
    {
        if (_rooms.TryGetValue(roomId, out var room))
        {
            using var wake = WakeAfterLock.Begin();
            lock (room)
            {
                if (room.RemoveConnection(userId, connectionId, endMembership, out var name))
                {
                    AppendLocked(room, new PresenceEvent(roomId, userId, name, PresenceStates.Left));
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<RoomEntry> EnsureMemberAsync(string roomId, RoomMember member, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Locked(roomId, member.UserId, room =>
        {
            if (!room.MayEnter(member.UserId))
            {
                return RoomEntry.NotInvited;
            }

            room.AddMember(member);
            return RoomEntry.Entered;
        }));

    public ValueTask<RoomInvitation> InviteAsync(string roomId, string userId, int maxPerRoom, int maxPendingPerUser, CancellationToken cancellationToken = default)
    {
        if (!_rooms.TryGetValue(roomId, out var room))
        {
            return ValueTask.FromResult(RoomInvitation.NoRoom);
        }

        lock (room)
        {
            return ValueTask.FromResult(room.Forgotten ? RoomInvitation.NoRoom : room.Invite(userId, maxPerRoom));
        }
    }

    public ValueTask<bool> IsMemberAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.IsMember(userId), false));

    public ValueTask<bool> MayEnterAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.MayEnter(userId), true));

    public ValueTask<RoomSnapshot> GetSnapshotAsync(string roomId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.Snapshot(_options.SnapshotMessages), new RoomSnapshot(roomId, 0, [], [], null)));

    public ValueTask<EventRange> ReadAfterAsync(string roomId, long afterSeq, int limit = int.MaxValue, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.ReadAfter(afterSeq, limit), new EventRange(afterSeq > 0, 0, [])));

    public ValueTask<IReadOnlyList<ChatMessage>> GetHistoryAsync(string roomId, int maxMessages, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.History(maxMessages), []));

    public ValueTask<bool> RestoreAsync(RestoredRoom room, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_rooms.TryAdd(room.RoomId, RoomState.Restore(room, _options)));

    public ValueTask<RoomActivity> GetActivityAsync(string roomId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => new RoomActivity(room.Settings, room.ActiveGenerationId), new RoomActivity(RoomSettings.Default, null)));

    public ValueTask<TypingOutcome> PublishTypingAsync(TypingEvent typing, TimeSpan interval, CancellationToken cancellationToken = default)
    {
        if (!_rooms.TryGetValue(typing.RoomId, out var room))
        {
            return ValueTask.FromResult(TypingOutcome.NotMember);
        }

        using var wake = WakeAfterLock.Begin();
        lock (room)
        {
            if (!room.IsMember(typing.UserId))
            {
                return ValueTask.FromResult(TypingOutcome.NotMember);
            }

            if (!room.TakeTyping(typing.UserId, time.GetUtcNow(), interval))
            {
                return ValueTask.FromResult(TypingOutcome.Throttled);
            }

            // Not appended: it takes no seq and stays out of the log.
            _subscribers?.Invoke(typing);
            return ValueTask.FromResult(TypingOutcome.Sent);
        }
    }

    public ValueTask<RoomSettings?> UpdateSettingsAsync(string roomId, RoomSettingsUpdate update, RoomMember by, bool checkPermission, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Locked<RoomSettings?>(roomId, null, room =>
        {
            if (checkPermission && !room.MayChangeSettings(by.UserId))
            {
                return null;
            }

            var settings = room.Merge(update);
            AppendLocked(room, new RoomSettingsEvent(roomId, settings, by));
            return settings;
        }));

    private T Read<T>(string roomId, Func<RoomState, T> read, T missing)
    {
        if (!_rooms.TryGetValue(roomId, out var room))
        {
            return missing;
        }

        lock (room)
        {
            return room.Forgotten ? missing : read(room);
        }
    }

    /// <summary>
    /// Runs <paramref name="change"/> under the room's lock, creating the room if unknown (again, if it was
    /// just forgotten): whoever first enters an unknown room created it, as a public room; an event
    /// appended to an unknown room (nobody's) makes a public room with no creator.
    /// </summary>
    private T Locked<T>(string roomId, string? creatorId, Func<RoomState, T> change) =>
        Locked(roomId, creatorId, change, static (room, change) => change(room));

    /// <summary>The same, with the change's state passed in, so that a change made for every delta allocates no closure.</summary>
    private T Locked<TState, T>(string roomId, string? creatorId, TState state, Func<RoomState, TState, T> change)
    {
        // What the change publishes is delivered on this thread once the lock is let go.
        using var wake = WakeAfterLock.Begin();
        while (true)
        {
            var room = _rooms.GetOrAdd(roomId, static (id, creator) => new RoomState(id, RoomVisibility.Public, creator), creatorId);
            lock (room)
            {
                if (!room.Forgotten)
                {
                    return change(room, state);
                }
            }
        }
    }
}
