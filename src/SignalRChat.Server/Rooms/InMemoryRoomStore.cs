using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Rooms;

/// <summary>The default store: every room in this process, each guarded by its own lock.</summary>
internal sealed class InMemoryRoomStore(IOptions<RoomOptions> options, TimeProvider time) : IRoomStore, IRoomEventBus
{
    private readonly ConcurrentDictionary<string, RoomState> _rooms = new(StringComparer.Ordinal);
    private readonly RoomOptions _options = options.Value;
    private Action<RoomEvent>? _subscribers;

    public void Subscribe(Action<RoomEvent> handler) => _subscribers += handler;

    public Task WatchAsync(string roomId) => Task.CompletedTask;

    public ValueTask<RoomEvent> AppendAsync(RoomEvent roomEvent, CancellationToken cancellationToken = default)
    {
        var room = GetOrCreate(roomEvent.RoomId);
        lock (room)
        {
            return ValueTask.FromResult(AppendLocked(room, roomEvent));
        }
    }

    // Publishing inside the room's lock is what keeps every subscriber's view in seq order.
    private RoomEvent AppendLocked(RoomState room, RoomEvent roomEvent)
    {
        var appended = room.Append(roomEvent, time.GetUtcNow(), _options);
        _subscribers?.Invoke(appended);
        return appended;
    }

    public ValueTask<RoomCreation> CreateRoomAsync(string roomId, string userId, string visibility, CancellationToken cancellationToken = default)
    {
        // Only the instance that GetOrAdd kept counts: a factory that ran and lost a race created nothing.
        RoomState? made = null;
        var room = _rooms.GetOrAdd(roomId, id => made = new RoomState(id, visibility, userId));
        if (ReferenceEquals(room, made))
        {
            return ValueTask.FromResult(RoomCreation.Created);
        }

        // Visibility and creator never change after creation, so they need no lock.
        return ValueTask.FromResult(room.CreatorId == userId && room.Visibility == visibility ? RoomCreation.AlreadyYours : RoomCreation.TakenByOther);
    }

    public ValueTask<RoomEntry> EnterAsync(string roomId, RoomMember member, string connectionId, CancellationToken cancellationToken = default)
    {
        var room = GetOrCreate(roomId, member.UserId);
        lock (room)
        {
            if (!room.MayEnter(member.UserId))
            {
                return ValueTask.FromResult(RoomEntry.NotInvited);
            }

            if (room.AddConnection(member, connectionId))
            {
                AppendLocked(room, new PresenceEvent(roomId, member.UserId, member.Name, PresenceStates.Joined));
            }

            return ValueTask.FromResult(RoomEntry.Entered);
        }
    }

    public ValueTask ExitAsync(string roomId, string userId, string connectionId, bool endMembership, CancellationToken cancellationToken = default)
    {
        if (_rooms.TryGetValue(roomId, out var room))
        {
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

    public ValueTask<RoomEntry> EnsureMemberAsync(string roomId, RoomMember member, CancellationToken cancellationToken = default)
    {
        var room = GetOrCreate(roomId, member.UserId);
        lock (room)
        {
            if (!room.MayEnter(member.UserId))
            {
                return ValueTask.FromResult(RoomEntry.NotInvited);
            }

            room.AddMember(member);
            return ValueTask.FromResult(RoomEntry.Entered);
        }
    }

    public ValueTask<bool> InviteAsync(string roomId, string userId, CancellationToken cancellationToken = default)
    {
        if (!_rooms.TryGetValue(roomId, out var room))
        {
            return ValueTask.FromResult(false);
        }

        lock (room)
        {
            room.Invite(userId);
        }

        return ValueTask.FromResult(true);
    }

    public ValueTask<bool> IsMemberAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.IsMember(userId), false));

    public ValueTask<bool> MayEnterAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.MayEnter(userId), true));

    public ValueTask<RoomSnapshot> GetSnapshotAsync(string roomId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.Snapshot(_options.SnapshotMessages), new RoomSnapshot(roomId, 0, [], [], null)));

    public ValueTask<EventRange> ReadAfterAsync(string roomId, long afterSeq, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(roomId, room => room.ReadAfter(afterSeq), new EventRange(afterSeq > 0, 0, [])));

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

    public ValueTask<RoomSettings?> UpdateSettingsAsync(string roomId, RoomSettingsUpdate update, RoomMember by, bool checkPermission, CancellationToken cancellationToken = default)
    {
        var room = GetOrCreate(roomId);
        lock (room)
        {
            if (checkPermission && !room.MayChangeSettings(by.UserId))
            {
                return ValueTask.FromResult<RoomSettings?>(null);
            }

            var settings = room.Merge(update);
            AppendLocked(room, new RoomSettingsEvent(roomId, settings, by));
            return ValueTask.FromResult<RoomSettings?>(settings);
        }
    }

    private T Read<T>(string roomId, Func<RoomState, T> read, T missing)
    {
        if (!_rooms.TryGetValue(roomId, out var room))
        {
            return missing;
        }

        lock (room)
        {
            return read(room);
        }
    }

    // Whoever first enters an unknown room created it, as a public room; an event appended to an
    // unknown room (nobody's) makes a public room with no creator.
    private RoomState GetOrCreate(string roomId, string? creatorId = null) =>
        _rooms.GetOrAdd(roomId, static (id, creator) => new RoomState(id, RoomVisibility.Public, creator), creatorId);
}
