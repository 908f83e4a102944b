using SignalRChat.Contracts;

namespace SignalRChat.Server.Storage;

/// <summary>The record in this process (<c>Chat:Storage:Provider=Memory</c>): the same behaviour as the databases, gone at a restart.</summary>
internal sealed class MemoryChatRecord : IChatRecord
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Room> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredMessage> _messagesById = new(StringComparer.Ordinal);

    public string Description => "memory (Chat:Storage:Provider=Memory)";

    /// <summary>Rooms kept, listed or not.</summary>
    public int RoomCount
    {
        get
        {
            lock (_lock)
            {
                return _rooms.Count;
            }
        }
    }

    public Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<int>>([]);

    public Task WriteAsync(IReadOnlyList<RecordWrite> writes, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var write in writes)
            {
                Apply(write);
            }
        }

        return Task.CompletedTask;
    }

    private void Apply(RecordWrite write)
    {
        switch (write)
        {
            case RoomSaved saved:
                if (!_rooms.TryGetValue(saved.RoomId, out var known) || known.Unlisted)
                {
                    var room = new Room(saved.Visibility, saved.CreatorId, saved.CreatedAt);
                    foreach (var message in known?.Messages.Values ?? [])
                    {
                        room.Messages[message.Seq] = message;
                    }

                    _rooms[saved.RoomId] = room;
                }

                break;
            case RoomSettingsSaved settings when _rooms.TryGetValue(settings.RoomId, out var room):
                room.Settings = settings.Settings;
                break;
            case SeqReached reached when _rooms.TryGetValue(reached.RoomId, out var room):
                room.LastSeq = Math.Max(room.LastSeq, reached.Seq);
                break;
            case InvitationSaved invitation when _rooms.TryGetValue(invitation.RoomId, out var room):
                room.Invited.TryAdd(invitation.UserId, invitation.At);
                break;
            case MembershipSaved { Left: false } joined:
                if (!_rooms.TryGetValue(joined.RoomId, out var entered))
                {
                    // A room forgotten when its last member left (below) is seen again.
                    _rooms[joined.RoomId] = entered = new Room(RoomVisibility.Public, null, joined.At);
                }

                entered.Members[joined.UserId] = entered.Members.TryGetValue(joined.UserId, out var before)
                    ? before with { Name = joined.Name, Left = false }
                    : new StoredMember(joined.UserId, joined.Name, false, 0);
                break;
            case MembershipSaved left when _rooms.TryGetValue(left.RoomId, out var room):
                if (room.Members.TryGetValue(left.UserId, out var was))
                {
                    room.Members[left.UserId] = was with { Left = true };
                }

                if (room.IsEmpty)
                {
                    // A public room nobody created, said nothing in and nobody is in any more is the same as one never entered:
                    // forgotten, so the process keeps what is in use, not every room anyone ever walked through.
                    _rooms.Remove(left.RoomId);
                }

                break;
            case ReadMarked read when _rooms.TryGetValue(read.RoomId, out var room) && room.Members.TryGetValue(read.UserId, out var member):
                room.Members[read.UserId] = member with { ReadSeq = Math.Max(member.ReadSeq, read.Seq) };
                break;
            case MessageSaved { Message: var message }:
                if (_messagesById.TryGetValue(message.MessageId, out var stored))
                {
                    if (stored.State != MessageStates.Generating)
                    {
                        // As the databases do: a message that ended keeps its end.
                        break;
                    }

                    message = stored with { Text = message.Text, State = message.State, Usage = message.Usage, CancelledBy = message.CancelledBy, Error = message.Error };
                }
                else if (!_rooms.ContainsKey(message.RoomId))
                {
                    // As the databases do: a message may be written for a room that is not recorded (yet).
                    _rooms[message.RoomId] = new Room(RoomVisibility.Public, null, message.CreatedAt) { Unlisted = true };
                }

                _messagesById[message.MessageId] = message;
                _rooms[message.RoomId].Messages[message.Seq] = message;
                break;
        }
    }

    public Task<StoredRoom?> FindRoomAsync(string roomId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_rooms.TryGetValue(roomId, out var room) || room.Unlisted)
            {
                return Task.FromResult<StoredRoom?>(null);
            }

            var lastSeq = Math.Max(room.LastSeq, room.Messages.Count == 0 ? 0 : room.Messages.Keys[^1]);
            return Task.FromResult<StoredRoom?>(new StoredRoom(roomId, room.Visibility, room.CreatorId, room.CreatedAt, room.Settings, lastSeq,
                room.Invited.OrderBy(i => i.Value).ThenBy(i => i.Key, StringComparer.Ordinal).Select(i => i.Key).ToList(), room.Members.Values.ToList()));
        }
    }

    public Task<MessagePage> GetMessagesAsync(string roomId, long? beforeSeq, int limit, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_rooms.TryGetValue(roomId, out var room))
            {
                return Task.FromResult(new MessagePage([], false));
            }

            var before = beforeSeq is > 0 ? beforeSeq.Value : long.MaxValue;
            var older = room.Messages.Values.Where(m => m.Seq < before).ToList();
            var page = older.Skip(Math.Max(0, older.Count - limit)).ToList();
            return Task.FromResult(new MessagePage(page, older.Count > limit));
        }
    }

    public Task<IReadOnlyList<RoomListing>> ListRoomsAsync(string userId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var rooms = new List<RoomListing>();
            foreach (var (roomId, room) in _rooms)
            {
                var member = room.Members.GetValueOrDefault(userId);
                if (room.Unlisted || !(member is { Left: false } || room.CreatorId == userId || room.Invited.ContainsKey(userId)))
                {
                    continue;
                }

                var last = room.Messages.Count == 0 ? null : room.Messages.Values[^1];
                if (last is { Text.Length: > IChatRecord.PreviewLength })
                {
                    last = last with { Text = last.Text[..IChatRecord.PreviewLength] };
                }

                var readSeq = member?.ReadSeq ?? 0;
                var unread = room.Messages.Values.Count(m => m.Seq > readSeq && m.AuthorId != userId);
                rooms.Add(new RoomListing(roomId, room.Visibility, last?.CreatedAt ?? room.CreatedAt, last, room.Members.Values.Count(m => !m.Left),
                    Math.Max(room.LastSeq, last?.Seq ?? 0), readSeq, unread));
            }

            return Task.FromResult<IReadOnlyList<RoomListing>>(rooms.OrderByDescending(r => r.LastActivity).ThenBy(r => r.RoomId, StringComparer.Ordinal).ToList());
        }
    }

    public Task<int> CountPendingInvitationsAsync(string userId, string exceptRoomId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_rooms.Count(r => r.Key != exceptRoomId && r.Value.Invited.ContainsKey(userId) && !r.Value.Members.ContainsKey(userId)));
        }
    }

    public Task<IReadOnlyList<(string UserId, int Unread)>> GetUnreadAsync(string roomId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_rooms.TryGetValue(roomId, out var room) || room.Unlisted)
            {
                return Task.FromResult<IReadOnlyList<(string, int)>>([]);
            }

            var people = room.Members.Values.Where(m => !m.Left).Select(m => m.UserId).Concat(room.Invited.Keys)
                .Concat(room.CreatorId is null ? [] : [room.CreatorId]).Distinct(StringComparer.Ordinal);
            return Task.FromResult<IReadOnlyList<(string, int)>>(people.Select(userId =>
            {
                var readSeq = room.Members.GetValueOrDefault(userId)?.ReadSeq ?? 0;
                return (userId, room.Messages.Values.Count(m => m.Seq > readSeq && m.AuthorId != userId));
            }).ToList());
        }
    }

    public Task<int> FailInterruptedAsync(string error, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var interrupted = _messagesById.Values.Where(m => m.State == MessageStates.Generating).ToList();
            foreach (var message in interrupted)
            {
                Apply(new MessageSaved(message with { State = MessageStates.Failed, Error = error }));
            }

            return Task.FromResult(interrupted.Count);
        }
    }

    public Task<int> RemoveMessagesBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var old = _messagesById.Values.Where(m => m.CreatedAt < cutoff && m.State != MessageStates.Generating).ToList();
            foreach (var message in old)
            {
                _messagesById.Remove(message.MessageId);
                _rooms[message.RoomId].Messages.Remove(message.Seq);
            }

            return Task.FromResult(old.Count);
        }
    }

    private sealed class Room(string visibility, string? creatorId, DateTimeOffset createdAt)
    {
        public string Visibility { get; } = visibility;

        public string? CreatorId { get; } = creatorId;

        public DateTimeOffset CreatedAt { get; } = createdAt;

        public string? Settings { get; set; }

        public long LastSeq { get; set; }

        /// <summary>Known only from its messages, as a database row of messages without a row of rooms.</summary>
        public bool Unlisted { get; set; }

        public Dictionary<string, DateTimeOffset> Invited { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, StoredMember> Members { get; } = new(StringComparer.Ordinal);

        public SortedList<long, StoredMessage> Messages { get; } = [];

        /// <summary>Nothing anyone would find again: no creator, messages, invitations, settings or present member.</summary>
        public bool IsEmpty => CreatorId is null && !Unlisted && Messages.Count == 0 && Invited.Count == 0 && Settings is null && Members.Values.All(m => m.Left);
    }
}
