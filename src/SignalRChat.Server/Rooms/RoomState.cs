using System.Text;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Rooms;

/// <summary>
/// One room's state as the projection of its event stream. Not thread-safe: the in-memory store
/// guards each instance with its own lock.
/// </summary>
internal sealed class RoomState(string roomId, string visibility, string? creatorId)
{
    private readonly LinkedList<ChatMessage> _history = new();
    private readonly Queue<(RoomEvent Event, DateTimeOffset At)> _log = new();
    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);
    private readonly HashSet<string> _invited = new(StringComparer.Ordinal);
    private Active? _active;

    public string RoomId { get; } = roomId;

    public string Visibility { get; } = visibility;

    public string? CreatorId { get; } = creatorId;

    public long LastSeq { get; private set; }

    public RoomSettings Settings { get; private set; } = RoomSettings.Default;

    /// <summary>True when the user may change the room's settings: any member of a public room, the creator of a private one.</summary>
    public bool MayChangeSettings(string userId) => IsMember(userId) && (Visibility == RoomVisibility.Public || userId == CreatorId);

    /// <summary>The settings after <paramref name="update"/>; <c>topic: ""</c> clears the topic.</summary>
    public RoomSettings Merge(RoomSettingsUpdate update) => new(
        update.Assistant ?? Settings.Assistant,
        update.OnBusy ?? Settings.OnBusy,
        update.Topic is null ? Settings.Topic : update.Topic.Length == 0 ? null : update.Topic);

    /// <summary>Set when the store let the room go; whoever still holds this instance looks the room up again.</summary>
    public bool Forgotten { get; set; }

    /// <summary>Made by <c>CreateRoom</c>, not by a first join: such a room is kept even while empty.</summary>
    public bool CreatedExplicitly { get; init; }

    /// <summary>
    /// A public room that nobody created on purpose, with no message, member, invitation or reply:
    /// all it holds is presence that came and went, so forgetting it loses nothing.
    /// </summary>
    public bool IsEmpty => !CreatedExplicitly && Visibility == RoomVisibility.Public && _history.Count == 0 && _members.Count == 0
        && _invited.Count == 0 && _active is null;

    public bool MayEnter(string userId) =>
        Visibility == RoomVisibility.Public || userId == CreatorId || _invited.Contains(userId) || _members.ContainsKey(userId);

    public bool IsMember(string userId) => _members.ContainsKey(userId);

    /// <summary>A room rebuilt from the record: its log is empty, so a resume from before <see cref="RestoredRoom.LastSeq"/> answers reset.</summary>
    public static RoomState Restore(RestoredRoom restored, RoomOptions options)
    {
        var room = new RoomState(restored.RoomId, restored.Visibility, restored.CreatorId) { LastSeq = restored.LastSeq, Settings = restored.Settings };
        room._invited.UnionWith(restored.Invited);
        foreach (var member in restored.Members)
        {
            room.AddMember(member);
        }

        foreach (var message in restored.History.TakeLast(options.MaxHistoryMessages))
        {
            room._history.AddLast(message);
        }

        return room;
    }

    /// <summary>True when the member's last typing event is at least <paramref name="interval"/> old (and records this one).</summary>
    public bool TakeTyping(string userId, DateTimeOffset now, TimeSpan interval)
    {
        if (!_members.TryGetValue(userId, out var member) || now - member.LastTypingAt < interval)
        {
            return false;
        }

        member.LastTypingAt = now;
        return true;
    }

    /// <summary>Adds an invitation unless the list already holds <paramref name="max"/> others.</summary>
    public RoomInvitation Invite(string userId, int max)
    {
        if (_invited.Contains(userId))
        {
            return RoomInvitation.AlreadyInvited;
        }

        if (_invited.Count >= max)
        {
            return RoomInvitation.RoomFull;
        }

        _invited.Add(userId);
        return RoomInvitation.Invited;
    }

    public void AddMember(RoomMember member)
    {
        if (!_members.ContainsKey(member.UserId))
        {
            _members[member.UserId] = new Member(member.Name);
        }
    }

    /// <summary>Adds a connection; true when it is the user's first in the room.</summary>
    public bool AddConnection(RoomMember member, string connectionId)
    {
        if (!_members.TryGetValue(member.UserId, out var entry))
        {
            entry = new Member(member.Name);
            _members[member.UserId] = entry;
        }

        var wasOffline = entry.Connections.Count == 0;
        entry.Connections.Add(connectionId);
        entry.Name = member.Name;
        return wasOffline;
    }

    /// <summary>Removes a connection; true when it was the user's last in the room.</summary>
    public bool RemoveConnection(string userId, string connectionId, bool endMembership, out string name)
    {
        name = userId;
        if (!_members.TryGetValue(userId, out var entry))
        {
            return false;
        }

        name = entry.Name;
        var removed = entry.Connections.Remove(connectionId);
        var nowOffline = removed && entry.Connections.Count == 0;
        if (endMembership && entry.Connections.Count == 0)
        {
            _members.Remove(userId);
        }

        return nowOffline;
    }

    /// <summary>The id of the reply generating now (from its first status on), or null.</summary>
    public string? ActiveGenerationId => _active?.GenerationId;

    public RoomEvent Append(RoomEvent roomEvent, DateTimeOffset now, RoomOptions options)
    {
        var seq = LastSeq + 1;
        roomEvent = roomEvent.Numbered(seq);
        LastSeq = seq;
        Apply(roomEvent, options);
        _log.Enqueue((roomEvent, now));
        TrimLog(now, options);
        return roomEvent;
    }

    private void Apply(RoomEvent roomEvent, RoomOptions options)
    {
        switch (roomEvent)
        {
            case MessageEvent m:
                _history.AddLast(m.Message);
                while (_history.Count > options.MaxHistoryMessages)
                {
                    _history.RemoveFirst();
                }

                break;
            case RoomSettingsEvent settings:
                Settings = settings.Settings;
                break;
            case StatusEvent { IsFinal: true } s:
                if (_active is not null && _active.GenerationId == s.GenerationId)
                {
                    FinishMessage(_active.MessageId, s.Text ?? _active.Text.ToString(), MessageStates.AfterGeneration(s.State), s.CancelledBy);
                    _active = null;
                }

                break;
            case StatusEvent s when s.MessageId is not null:
                if (_active is null || _active.GenerationId != s.GenerationId)
                {
                    _active = new Active(s.GenerationId, s.MessageId);
                }

                _active.State = s.State;
                break;
            case TokenEvent t:
                if (_active is not null && _active.GenerationId == t.GenerationId)
                {
                    _active.Text.Append(t.Text);
                }

                break;
        }
    }

    private void FinishMessage(string messageId, string text, string state, RoomMember? cancelledBy)
    {
        for (var node = _history.Last; node is not null; node = node.Previous)
        {
            if (node.Value.MessageId == messageId)
            {
                node.Value = node.Value with { Text = text, State = state, CancelledBy = cancelledBy };
                return;
            }
        }
    }


    /// <summary>Drops events past the log's size or age; also run on a timer, so a room nobody writes to lets its log go.</summary>
    public void TrimLog(DateTimeOffset now, RoomOptions options)
    {
        while (_log.Count > options.EventLogSize || (_log.Count > 0 && now - _log.Peek().At > options.EventLogMaxAge))
        {
            _log.Dequeue();
        }
    }

    public RoomSnapshot Snapshot(int maxMessages)
    {
        var messages = new List<ChatMessage>(Math.Min(maxMessages, _history.Count));
        var skip = Math.Max(0, _history.Count - maxMessages);
        foreach (var message in _history)
        {
            if (skip-- > 0)
            {
                continue;
            }

            messages.Add(_active is not null && message.MessageId == _active.MessageId ? message with { Text = _active.Text.ToString() } : message);
        }

        var members = _members.Where(m => m.Value.Connections.Count > 0).Select(m => new RoomMember(m.Key, m.Value.Name)).ToList();
        var active = _active is null ? null : new ActiveGeneration(_active.GenerationId, _active.MessageId, _active.Text.ToString(), _active.State);
        return new RoomSnapshot(RoomId, LastSeq, members, messages, active) { Settings = Settings };
    }

    public IReadOnlyList<ChatMessage> History(int maxMessages) => Snapshot(maxMessages).Messages;

    public EventRange ReadAfter(long afterSeq, int limit)
    {
        if (afterSeq >= LastSeq)
        {
            return new EventRange(false, LastSeq, []);
        }

        var oldest = _log.Count == 0 ? LastSeq + 1 : _log.Peek().Event.Seq;
        if (afterSeq + 1 < oldest || afterSeq < 0)
        {
            return new EventRange(true, LastSeq, []);
        }

        var events = new List<RoomEvent>((int)Math.Min(LastSeq - afterSeq, Math.Min(limit, 1024)));
        foreach (var (roomEvent, _) in _log)
        {
            if (roomEvent.Seq > afterSeq)
            {
                if (events.Count >= limit)
                {
                    break;
                }

                events.Add(roomEvent);
            }
        }

        return new EventRange(false, LastSeq, events);
    }

    private sealed class Member(string name)
    {
        public string Name { get; set; } = name;

        public DateTimeOffset LastTypingAt { get; set; } = DateTimeOffset.MinValue;

        public HashSet<string> Connections { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Active(string generationId, string messageId)
    {
        public string GenerationId { get; } = generationId;

        public string MessageId { get; } = messageId;

        public string State { get; set; } = GenerationStates.Thinking;

        public StringBuilder Text { get; } = new();
    }
}
