using System.Text.Json;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Rooms in Redis, shared by every node: state, history, the in-flight reply, presence and the event
/// log, changed only by the room scripts (<see cref="RoomScripts"/>); each appended event is published
/// on the room's sharded channel, which every node with members in the room subscribes to
/// (<see cref="RoomSubscriptions"/>). Writes of this node's own go through <see cref="RedisWriteBehind"/>.
/// </summary>
internal sealed class RedisRoomStore : IRoomStore, IRoomEventBus, IRoomStateLoss
{
    private const int ReadPage = 500;
    private const string Absent = "ROOMABSENT";
    private const string Gone = "GENERATIONGONE";

    private readonly IOptions<RoomOptions> _options;
    private readonly IOptions<RedisGenerationOptions> _redisOptions;
    private readonly TimeProvider _time;
    private readonly RedisScriptInvoker _scripts;
    private readonly RoomSubscriptions _subscriptions;
    private readonly RedisWriteBehind _writeBehind;
    private readonly IConnectionMultiplexer _redis;
    private Func<string, Task<bool>>? _rebuild;

    public RedisRoomStore(IConnectionMultiplexer redis, RedisScriptInvoker scripts, IOptions<RoomOptions> options, IOptions<RedisGenerationOptions> redisOptions,
        TimeProvider time, ILogger<RedisRoomStore> logger)
    {
        _redis = redis;
        _options = options;
        _redisOptions = redisOptions;
        _time = time;
        _scripts = scripts;
        _subscriptions = new RoomSubscriptions(redis, logger);
        _subscriptions.ReadMissedFrom(async (roomId, afterSeq) => await ReadAfterAsync(roomId, afterSeq));
        _writeBehind = new RedisWriteBehind(scripts, _subscriptions, time, logger);
    }

    /// <summary>Rooms whose channel this node is subscribed to now.</summary>
    public int WatchedRooms => _subscriptions.Count;

    public void Subscribe(Action<RoomEvent> handler) => _subscriptions.Subscribe(handler);

    public Task WatchAsync(string roomId) => _subscriptions.WatchAsync(roomId);

    /// <summary>This node no longer needs the room's events: its channel is unsubscribed once nothing here watches it.</summary>
    public Task UnwatchAsync(string roomId) => _subscriptions.UnwatchAsync(roomId);

    /// <summary>The arguments every room and queue script takes, for <paramref name="roomId"/>, now.</summary>
    internal RoomScriptArgs Args(string roomId) => new(roomId, _time.GetUtcNow().ToUnixTimeMilliseconds(), _options.Value, _redisOptions.Value.IdleRoomTtl);

    /// <summary>The script that appends <paramref name="roomEvent"/>: a delta's own lean one, or <see cref="RoomScripts.Append"/>.</summary>
    internal static LuaScript AppendScript(RoomEvent roomEvent) => roomEvent is TokenEvent ? RoomScripts.AppendToken : RoomScripts.Append;

    /// <summary>The arguments of <see cref="AppendScript"/> for <paramref name="roomEvent"/>.</summary>
    internal IWriteArgs AppendArgs(RoomEvent roomEvent)
    {
        if (roomEvent is TokenEvent token)
        {
            return new TokenScriptArgs(token, EventCodec.Template(token), _time.GetUtcNow().ToUnixTimeMilliseconds(), _options.Value);
        }

        var args = Args(roomEvent.RoomId);
        args.Kind = roomEvent.Kind;
        args.Json = EventCodec.Template(roomEvent);
        args.Hint = EventCodec.Hint(roomEvent);
        return args;
    }

    public async ValueTask<RoomEvent> AppendAsync(RoomEvent roomEvent, CancellationToken cancellationToken = default)
    {
        try
        {
            var (held, written) = await WriteOwnedAsync(roomEvent, "append", AppendScript(roomEvent), AppendArgs(roomEvent));
            return held ?? roomEvent.Numbered((long)await written);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith(Gone, StringComparison.Ordinal))
        {
            throw new GenerationGoneException(roomEvent.RoomId, ex);
        }
    }

    /// <summary>Writes an event of this node's own, or a reply's finish, holding it back while Redis does not answer (<see cref="RedisWriteBehind"/>).</summary>
    internal Task<(RoomEvent? Held, Task<RedisResult> Written)> WriteOwnedAsync(RoomEvent roomEvent, string operation, LuaScript script, IWriteArgs args) =>
        _writeBehind.WriteAsync(roomEvent, operation, script, args);

    /// <summary>Runs a room or queue script; writes wait while this node holds some of the room's back, so seqs stay in order.</summary>
    internal Task<RedisResult> RunAsync(string roomId, string operation, LuaScript script, RoomScriptArgs args, bool writes = true)
    {
        if (writes && _writeBehind.HasBacklog(roomId))
        {
            throw RedisScriptInvoker.Unavailable();
        }

        return _scripts.RunAsync(operation, script, args);
    }

    public void RebuildFrom(Func<string, Task<bool>> rebuild) => _rebuild = rebuild;

    /// <summary>
    /// Runs a script that reports an absent room (<c>requireKnown</c>): the room is then rebuilt from the record when
    /// it is recorded, and the script runs again; a room the record does not know is new, and the script runs as for one.
    /// </summary>
    private async Task<RedisResult> RunKnownAsync(string roomId, string operation, LuaScript script, RoomScriptArgs args, bool writes = true)
    {
        try
        {
            return await RunAsync(roomId, operation, script, args, writes);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith(Absent, StringComparison.Ordinal))
        {
        }

        if (_rebuild is null || !await _rebuild(roomId))
        {
            args.MayBeNew = "1";
        }

        try
        {
            return await RunAsync(roomId, operation, script, args, writes);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith(Absent, StringComparison.Ordinal))
        {
            // Lost again between the rebuild and this call.
            throw RedisScriptInvoker.Unavailable();
        }
    }

    public async ValueTask<RoomCreation> CreateRoomAsync(string roomId, string userId, string visibility, CancellationToken cancellationToken = default) =>
        (string?)await RunKnownAsync(roomId, "create", RoomScripts.Create, Args(roomId).With(user: userId, visibility: visibility)) switch
        {
            "created" => RoomCreation.Created,
            "yours" => RoomCreation.AlreadyYours,
            _ => RoomCreation.TakenByOther,
        };

    public async ValueTask<RoomEntry> EnterAsync(string roomId, RoomMember member, string connectionId, CancellationToken cancellationToken = default) =>
        (long)await RunKnownAsync(roomId, "enter", RoomScripts.Enter, Args(roomId).With(user: member.UserId, name: member.Name, conn: connectionId)) == 1
            ? RoomEntry.Entered
            : RoomEntry.NotInvited;

    public async ValueTask ExitAsync(string roomId, string userId, string connectionId, bool endMembership, CancellationToken cancellationToken = default) =>
        await RunAsync(roomId, "exit", RoomScripts.Exit, Args(roomId).With(user: userId, conn: connectionId, endMembership: endMembership));

    public async ValueTask<RoomEntry> EnsureMemberAsync(string roomId, RoomMember member, CancellationToken cancellationToken = default) =>
        (long)await RunKnownAsync(roomId, "ensure", RoomScripts.Ensure, Args(roomId).With(user: member.UserId, name: member.Name)) == 1 ? RoomEntry.Entered : RoomEntry.NotInvited;

    public async ValueTask<RoomInvitation> InviteAsync(string roomId, string userId, int maxPerRoom, int maxPendingPerUser,
        CancellationToken cancellationToken = default) =>
        (long)await RunKnownAsync(roomId, "invite", RoomScripts.Invite, Args(roomId).With(user: userId, count: maxPerRoom)) switch
        {
            1 => RoomInvitation.Invited,
            2 => RoomInvitation.AlreadyInvited,
            3 => RoomInvitation.RoomFull,
            _ => RoomInvitation.NoRoom,
        };

    public async ValueTask<bool> IsMemberAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunKnownAsync(roomId, "ismember", RoomScripts.IsMember, Args(roomId).With(user: userId), writes: false) == 1;

    public async ValueTask<bool> MayEnterAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunKnownAsync(roomId, "mayenter", RoomScripts.MayEnter, Args(roomId).With(user: userId), writes: false) == 1;

    public ValueTask<RoomSnapshot> GetSnapshotAsync(string roomId, CancellationToken cancellationToken = default) =>
        SnapshotAsync(roomId, _options.Value.SnapshotMessages);

    public async ValueTask<IReadOnlyList<ChatMessage>> GetHistoryAsync(string roomId, int maxMessages, CancellationToken cancellationToken = default) =>
        (await SnapshotAsync(roomId, maxMessages)).Messages;

    /// <summary>Writes the room's hot state from the record when Redis does not have it (<see cref="RoomScripts.Restore"/>); false when it was there.</summary>
    public async ValueTask<bool> RestoreAsync(RestoredRoom room, CancellationToken cancellationToken = default)
    {
        // Looked at first, so that a room Redis has (nearly always) costs no upload of its history.
        if (await MetaExistsAsync(room.RoomId))
        {
            return false;
        }

        var args = Args(room.RoomId).With(after: room.LastSeq);
        args.Json = JsonSerializer.Serialize(new RestorePayload(
            room.Visibility,
            room.CreatorId,
            room.Settings.Assistant,
            room.Settings.OnBusy,
            room.Settings.Topic,
            room.Invited,
            room.Members,
            room.History.Select(m => JsonSerializer.Serialize(m, ChatJson.Options)).ToList()), ChatJson.Options);
        return (long)await RunAsync(room.RoomId, "restore", RoomScripts.Restore, args) == 1;
    }

    public async ValueTask<bool> ExistsAsync(string roomId, CancellationToken cancellationToken = default) =>
        await MetaExistsAsync(roomId) || (_rebuild is not null && await _rebuild(roomId));

    private async Task<bool> MetaExistsAsync(string roomId)
    {
        try
        {
            return await _redis.GetDatabase().KeyExistsAsync(RedisKeys.Room(roomId) + ":meta");
        }
        catch (Exception ex) when (RedisScriptInvoker.IsUnreachable(ex))
        {
            throw RedisScriptInvoker.Unavailable();
        }
    }

    private sealed record RestorePayload(string Visibility, string? Creator, string Assistant, string OnBusy, string? Topic,
        IReadOnlyList<string> Invited, IReadOnlyList<RoomMember> Members, IReadOnlyList<string> History);

    /// <summary>The events after <paramref name="afterSeq"/> (at most <paramref name="limit"/>), read in pages so one big read never holds Redis for every other room.</summary>
    public async ValueTask<EventRange> ReadAfterAsync(string roomId, long afterSeq, int limit = int.MaxValue, CancellationToken cancellationToken = default)
    {
        var events = new List<RoomEvent>();
        var from = afterSeq;
        while (true)
        {
            var count = Math.Min(ReadPage, limit - events.Count);
            var result = (RedisResult[])(await RunKnownAsync(roomId, "read", RoomScripts.Read, Args(roomId).With(after: from, count: count), writes: false))!;
            var last = (long)result[0];
            if ((long)result[1] == 1)
            {
                return new EventRange(true, last, []);
            }

            var page = (RedisResult[])result[2]!;
            foreach (var entry in page)
            {
                events.Add(EventCodec.Decode((byte[])entry!, logged: true));
            }

            if (page.Length < count || events.Count == 0 || events.Count >= limit || events[^1].Seq >= last)
            {
                return new EventRange(false, last, events);
            }

            from = events[^1].Seq;
        }
    }

    private async ValueTask<RoomSnapshot> SnapshotAsync(string roomId, int maxMessages)
    {
        var result = (RedisResult[])(await RunKnownAsync(roomId, "snapshot", RoomScripts.Snapshot, Args(roomId).With(count: maxMessages), writes: false))!;
        var lastSeq = long.Parse((string)result[0]!, System.Globalization.CultureInfo.InvariantCulture);
        _subscriptions.Saw(roomId, lastSeq);
        var (generationId, messageId, state, text) = ((string)result[2]!, (string)result[3]!, (string)result[4]!, (string)result[5]!);
        var active = generationId.Length == 0 ? null : new ActiveGeneration(generationId, messageId, text, state);
        var messages = ((RedisResult[])result[1]!)
            .Select(m => JsonSerializer.Deserialize<ChatMessage>((string)m!, ChatJson.Options)!)
            .Select(m => active is not null && m.MessageId == active.MessageId ? m with { Text = active.Text } : m)
            .ToList();
        var online = (RedisResult[])result[6]!;
        var members = new List<RoomMember>(online.Length / 2);
        for (var i = 0; i + 1 < online.Length; i += 2)
        {
            members.Add(new RoomMember((string)online[i]!, (string)online[i + 1]!));
        }

        var settings = JsonSerializer.Deserialize<RoomSettings>((string)result[7]!, ChatJson.Options)!;
        return new RoomSnapshot(roomId, lastSeq, members, messages, active) { Settings = settings };
    }

    public async ValueTask<RoomActivity> GetActivityAsync(string roomId, CancellationToken cancellationToken = default)
    {
        var result = (RedisResult[])(await RunAsync(roomId, "activity", CollaborationScripts.Activity, Args(roomId), writes: false))!;
        var active = (string)result[1]!;
        return new RoomActivity(JsonSerializer.Deserialize<RoomSettings>((string)result[0]!, ChatJson.Options)!, active.Length == 0 ? null : active);
    }

    public async ValueTask<RoomSettings?> UpdateSettingsAsync(string roomId, RoomSettingsUpdate update, RoomMember by, bool checkPermission,
        CancellationToken cancellationToken = default)
    {
        var args = Args(roomId).With(user: by.UserId, name: by.Name);
        args.Check = checkPermission ? "1" : "0";
        args.Assistant = update.Assistant ?? string.Empty;
        args.OnBusy = update.OnBusy ?? string.Empty;
        args.Topic = update.Topic ?? string.Empty;
        args.HasTopic = update.Topic is null ? "0" : "1";
        var json = (string?)await RunKnownAsync(roomId, "settings", CollaborationScripts.Settings, args);
        return string.IsNullOrEmpty(json) ? null : JsonSerializer.Deserialize<RoomSettings>(json, ChatJson.Options);
    }

    // Not a room write (no seq, nothing kept but the throttle), so it goes out even while this node holds writes back.
    public async ValueTask<TypingOutcome> PublishTypingAsync(TypingEvent typing, TimeSpan interval, CancellationToken cancellationToken = default)
    {
        var args = Args(typing.RoomId).With(user: typing.UserId);
        args.Json = JsonSerializer.Serialize(typing, ChatJson.Options);
        args.IntervalMs = (long)interval.TotalMilliseconds;
        return (long)await RunAsync(typing.RoomId, "typing", CollaborationScripts.Typing, args, writes: false) switch
        {
            1 => TypingOutcome.Sent,
            0 => TypingOutcome.Throttled,
            _ => TypingOutcome.NotMember,
        };
    }
}
