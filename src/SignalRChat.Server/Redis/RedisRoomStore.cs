using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Rooms in Redis, shared by every node: state, history, the in-flight reply, presence and the
/// event log, changed only by <see cref="RedisScripts.Room"/>; each appended event is published
/// on the room's channel, which every node with members in the room subscribes to.
/// </summary>
internal sealed class RedisRoomStore(IConnectionMultiplexer redis, IOptions<RoomOptions> options, ChatMetrics metrics, TimeProvider time, ILogger<RedisRoomStore> logger)
    : IRoomStore, IRoomEventBus
{
    private static readonly TimeSpan FlushRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan RewatchRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxRewatchRetry = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Task> _watched = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _lastSeq = new(StringComparer.Ordinal);

    // The last seq handed to this node's subscribers, per room: where a catch-up starts.
    private readonly ConcurrentDictionary<string, long> _handedOut = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Backlog> _backlogs = new(StringComparer.Ordinal);
    private readonly Lock _backlogLock = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _catchUpGates = new(StringComparer.Ordinal);
    private Task? _flusher;
    private int _rewatchRound;
    private int _restoreHooked;
    private Action<RoomEvent>? _subscribers;

    public void Subscribe(Action<RoomEvent> handler) => _subscribers += handler;

    public Task WatchAsync(string roomId)
    {
        if (Interlocked.Exchange(ref _restoreHooked, 1) == 0)
        {
            redis.ConnectionRestored += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Subscription)
                {
                    _ = RewatchAsync();
                }
            };
        }

        var watching = _watched.GetOrAdd(roomId, WatchCoreAsync);
        if (watching.IsFaulted || watching.IsCanceled)
        {
            // A subscription that failed (Redis was down) is tried again, not remembered as failed.
            var retry = WatchCoreAsync(roomId);
            _watched[roomId] = retry;
            return retry;
        }

        return watching;
    }

    /// <summary>
    /// After the subscription connection comes back (a Redis restart), every room is subscribed
    /// afresh and what was published meanwhile is read from the room's log, so this node's members
    /// get it in order (their subscription skips what they already have). A room whose subscription
    /// or read fails (Redis is still coming up) is tried again until it succeeds or a later
    /// reconnection starts over.
    /// </summary>
    private async Task RewatchAsync()
    {
        var round = Interlocked.Increment(ref _rewatchRound);
        var waiting = new HashSet<string>(_watched.Keys, StringComparer.Ordinal);
        var pause = RewatchRetry;
        while (waiting.Count > 0 && round == Volatile.Read(ref _rewatchRound))
        {
            foreach (var roomId in waiting.ToList())
            {
                try
                {
                    await redis.GetSubscriber().UnsubscribeAsync(RedisKeys.RoomChannel(roomId));
                    var watching = WatchCoreAsync(roomId);
                    _watched[roomId] = watching;
                    await watching;
                    await CatchUpAsync(roomId, null);
                    waiting.Remove(roomId);
                }
                catch (Exception ex)
                {
                    RedisLog.RewatchWaiting(logger, roomId, ex.GetType().Name);
                }
            }

            if (waiting.Count > 0)
            {
                await Task.Delay(pause);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxRewatchRetry.Ticks));
            }
        }
    }

    private async Task WatchCoreAsync(string roomId)
    {
        // A queue (not a handler) so messages are handled one at a time, in the order Redis sent them.
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisKeys.RoomChannel(roomId));
        queue.OnMessage(async message =>
        {
            RoomEvent received;
            try
            {
                received = EventCodec.Decode(message.Message!);
            }
            catch (Exception ex)
            {
                RedisLog.BadMessage(logger, roomId, ex);
                return;
            }

            await CatchUpAsync(roomId, received);
        });
    }

    /// <summary>
    /// Hands out an event that came on the room's channel (or, with null, just what the log holds
    /// past what this node handed out). A jump in seq means messages were published while this
    /// node was not subscribed: the missing events are read from the log first, so this node's
    /// members get them in order. One room's catch-ups run one at a time.
    /// </summary>
    private async Task CatchUpAsync(string roomId, RoomEvent? received)
    {
        var gate = _catchUpGates.GetOrAdd(roomId, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync();
        try
        {
            var handedOut = _handedOut.GetValueOrDefault(roomId);
            if (received is not null && (received.Seq <= handedOut + 1 || handedOut == 0))
            {
                HandOut(received);
                return;
            }

            try
            {
                var range = await ReadAfterAsync(roomId, handedOut);
                foreach (var missed in range.Reset ? [] : range.Events)
                {
                    if (received is null || missed.Seq < received.Seq)
                    {
                        HandOut(missed);
                    }
                }
            }
            catch (Exception ex) when (received is not null)
            {
                // The event still goes out; a member that sees the gap resumes.
                RedisLog.CatchUpFailed(logger, roomId, ex.GetType().Name);
            }

            if (received is not null)
            {
                HandOut(received);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask<RoomEvent> AppendAsync(RoomEvent roomEvent, CancellationToken cancellationToken = default)
    {
        var (held, written) = await WriteOwnedAsync(roomEvent, "append", roomEvent.Kind, EventCodec.Template(roomEvent), EventCodec.Hint(roomEvent));
        return held ?? roomEvent.Numbered((long)await written);
    }

    /// <summary>
    /// Writes an event of this node's own (a reply it runs, a presence it saw) or a generation's
    /// finish. When Redis does not answer, the room keeps going on this node: the event takes the
    /// next seq here, reaches this node's members at once, and waits in order until Redis is back,
    /// when it is written with that same seq and published to the other nodes. Returns the event
    /// as held back (null when Redis took it at once) and the script's result once it is written.
    /// </summary>
    internal async Task<(RoomEvent? Held, Task<RedisResult> Written)> WriteOwnedAsync(RoomEvent roomEvent, string operation, params RedisValue[] arguments)
    {
        var roomId = roomEvent.RoomId;
        if (!HasBacklog(roomId))
        {
            try
            {
                var result = await RunCoreAsync(roomId, operation, string.Empty, arguments);
                if (operation == "append")
                {
                    Saw(roomId, (long)result);
                }

                return (null, Task.FromResult(result));
            }
            catch (Exception ex) when (IsUnreachable(ex))
            {
                RedisLog.HoldingBack(logger, roomId, ex.GetType().Name);
            }
        }

        return HoldBack(roomEvent, operation, arguments);
    }

    private (RoomEvent Held, Task<RedisResult> Written) HoldBack(RoomEvent roomEvent, string operation, RedisValue[] arguments)
    {
        var roomId = roomEvent.RoomId;
        lock (_backlogLock)
        {
            if (!_backlogs.TryGetValue(roomId, out var backlog))
            {
                backlog = new Backlog(_lastSeq.GetValueOrDefault(roomId) + 1);
                _backlogs[roomId] = backlog;
            }

            var held = roomEvent.Numbered(backlog.NextSeq++);
            var pending = new Pending(held.Seq, operation, arguments);
            backlog.Items.Enqueue(pending);
            // Inside the lock: this node's members get held-back events in seq order.
            HandOut(held);
            _flusher ??= Task.Run(FlushAsync);
            return (held, pending.Written.Task);
        }
    }

    private bool HasBacklog(string roomId)
    {
        lock (_backlogLock)
        {
            return _backlogs.ContainsKey(roomId);
        }
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            string roomId;
            Pending next;
            lock (_backlogLock)
            {
                var waiting = _backlogs.FirstOrDefault();
                if (waiting.Value is null)
                {
                    _flusher = null;
                    return;
                }

                roomId = waiting.Key;
                next = waiting.Value.Items.Peek();
            }

            RedisResult result;
            try
            {
                result = await RunCoreAsync(roomId, next.Operation, next.Seq, next.Arguments);
            }
            catch (Exception ex) when (IsUnreachable(ex))
            {
                RedisLog.FlushWaiting(logger, roomId, next.Seq, ex.Message);
                await Task.Delay(FlushRetry);
                continue;
            }
            catch (Exception ex)
            {
                RedisLog.FlushFailed(logger, roomId, next.Seq, ex);
                Done(roomId);
                next.Written.TrySetException(ex);
                continue;
            }

            if (next.Operation == "append" && (long)result != next.Seq)
            {
                // Another node wrote to the room while this one could not reach Redis.
                RedisLog.Renumbered(logger, roomId, next.Seq, (long)result);
            }

            Done(roomId);
            next.Written.TrySetResult(result);
        }

        void Done(string roomId)
        {
            lock (_backlogLock)
            {
                var backlog = _backlogs[roomId];
                backlog.Items.Dequeue();
                if (backlog.Items.Count == 0)
                {
                    _backlogs.Remove(roomId);
                }
            }
        }
    }

    private void Saw(string roomId, long seq) => _lastSeq.AddOrUpdate(roomId, seq, (_, known) => Math.Max(known, seq));

    private void HandOut(RoomEvent roomEvent)
    {
        Saw(roomEvent.RoomId, roomEvent.Seq);
        _handedOut.AddOrUpdate(roomEvent.RoomId, roomEvent.Seq, (_, known) => Math.Max(known, roomEvent.Seq));
        _subscribers?.Invoke(roomEvent);
    }

    private sealed class Backlog(long nextSeq)
    {
        public long NextSeq { get; set; } = nextSeq;

        public Queue<Pending> Items { get; } = new();
    }

    private sealed record Pending(long Seq, string Operation, RedisValue[] Arguments)
    {
        public TaskCompletionSource<RedisResult> Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async ValueTask<RoomCreation> CreateRoomAsync(string roomId, string userId, string visibility, CancellationToken cancellationToken = default) =>
        (string?)await RunAsync(roomId, "create", userId, visibility) switch
        {
            "created" => RoomCreation.Created,
            "yours" => RoomCreation.AlreadyYours,
            _ => RoomCreation.TakenByOther,
        };

    public async ValueTask<RoomEntry> EnterAsync(string roomId, RoomMember member, string connectionId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "enter", member.UserId, member.Name, connectionId) == 1 ? RoomEntry.Entered : RoomEntry.NotInvited;

    public async ValueTask ExitAsync(string roomId, string userId, string connectionId, bool endMembership, CancellationToken cancellationToken = default) =>
        await RunAsync(roomId, "exit", userId, connectionId, endMembership ? "1" : "0");

    public async ValueTask<RoomEntry> EnsureMemberAsync(string roomId, RoomMember member, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "ensure", member.UserId, member.Name) == 1 ? RoomEntry.Entered : RoomEntry.NotInvited;

    public async ValueTask<bool> InviteAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "invite", userId) == 1;

    public async ValueTask<bool> IsMemberAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "ismember", userId) == 1;

    public async ValueTask<bool> MayEnterAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "mayenter", userId) == 1;

    public ValueTask<RoomSnapshot> GetSnapshotAsync(string roomId, CancellationToken cancellationToken = default) =>
        SnapshotAsync(roomId, options.Value.SnapshotMessages);

    public async ValueTask<IReadOnlyList<ChatMessage>> GetHistoryAsync(string roomId, int maxMessages, CancellationToken cancellationToken = default) =>
        (await SnapshotAsync(roomId, maxMessages)).Messages;

    public async ValueTask<EventRange> ReadAfterAsync(string roomId, long afterSeq, CancellationToken cancellationToken = default)
    {
        var result = (RedisResult[])(await RunAsync(roomId, "read", afterSeq))!;
        var last = (long)result[0];
        if ((long)result[1] == 1)
        {
            return new EventRange(true, last, []);
        }

        var entries = (RedisResult[])result[2]!;
        return new EventRange(false, last, entries.Select(e => EventCodec.Decode((string)e!, logged: true)).ToList());
    }

    private async ValueTask<RoomSnapshot> SnapshotAsync(string roomId, int maxMessages)
    {
        var result = (RedisResult[])(await RunAsync(roomId, "snapshot", maxMessages))!;
        var lastSeq = long.Parse((string)result[0]!, System.Globalization.CultureInfo.InvariantCulture);
        Saw(roomId, lastSeq);
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

        return new RoomSnapshot(roomId, lastSeq, members, messages, active);
    }

    /// <summary>Runs one operation of the room script; Redis being unreachable is a clear, retryable refusal.</summary>
    internal async Task<RedisResult> RunAsync(string roomId, string operation, params RedisValue[] arguments)
    {
        if (HasBacklog(roomId) && operation is not ("snapshot" or "read" or "ismember" or "mayenter" or "renew" or "reap"))
        {
            // Writes wait until what this node held back is in Redis, so seqs stay in order.
            throw Unavailable();
        }

        try
        {
            return await RunCoreAsync(roomId, operation, string.Empty, arguments);
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            throw Unavailable(ex);
        }
    }

    // A TaskCanceledException here is the multiplexer giving a command up (no caller token is passed to Redis calls).
    internal static bool IsUnreachable(Exception ex) => ex is RedisConnectionException or RedisTimeoutException or TimeoutException or TaskCanceledException
        || ex is RedisServerException { Message: var message } && (message.StartsWith("LOADING", StringComparison.Ordinal) || message.StartsWith("BUSY", StringComparison.Ordinal));

    internal static ChatRequestException Unavailable(Exception? _ = null) =>
        new(ChatRefusal.Unavailable, "the chat store is temporarily unavailable and the server is retrying; try again in a moment");

    private Task<RedisResult> RunCoreAsync(string roomId, string operation, RedisValue expectedSeq, RedisValue[] arguments)
    {
        var settings = options.Value;
        var values = new RedisValue[8 + arguments.Length];
        values[0] = operation;
        values[1] = time.GetUtcNow().ToUnixTimeMilliseconds();
        values[2] = settings.EventLogSize;
        values[3] = (long)settings.EventLogMaxAge.TotalMilliseconds;
        values[4] = settings.MaxHistoryMessages;
        values[5] = roomId;
        values[6] = RedisKeys.RoomChannel(roomId).ToString();
        values[7] = expectedSeq;
        arguments.CopyTo(values, 8);
        return metrics.TimeRedisAsync(operation, redis.GetDatabase().ScriptEvaluateAsync(RedisScripts.Room, [RedisKeys.Room(roomId), RedisKeys.Global], values));
    }
}
