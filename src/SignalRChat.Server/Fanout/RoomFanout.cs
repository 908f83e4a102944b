using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Fanout;

/// <summary>
/// Delivers each room's ordered event stream to this node's subscribers of that room. One owner
/// per room on this node, made when a member or stream first needs the room and released by
/// <see cref="RoomSweeper"/> once nothing has held it for <c>Chat:Rooms:IdleTime</c>: its loop
/// completes and the bus lets the room go (<see cref="IRoomEventBus.UnwatchAsync"/>).
/// Snapshots and resume ranges are read before anything is posted to the room's loop, so one
/// member's read never stalls the others; the loop then reconciles by seq: what it delivered
/// after the read is filled in from the events it keeps in memory, or the read is made again.
/// </summary>
internal sealed class RoomFanout
{
    // Events a room keeps after delivering them, to fill the gap between a read and the loop's position.
    private const int RecentEvents = 512;

    // Events read from the store at once for a resume.
    private const int ReplayPage = 250;

    private readonly ConcurrentDictionary<string, LocalRoom> _rooms = new(StringComparer.Ordinal);

    // A released room's channel is let go before a new owner of the same room watches it again.
    private readonly ConcurrentDictionary<string, Task> _releasing = new(StringComparer.Ordinal);
    private readonly RoomNumbers _numbers = new();
    private readonly IRoomStore _store;
    private readonly IRoomEventBus _bus;
    private readonly IOptions<RoomOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RoomFanout> _logger;
    private readonly ChatMetrics _metrics;

    public RoomFanout(IRoomEventBus bus, IRoomStore store, IOptions<RoomOptions> options, TimeProvider time, ChatMetrics metrics, ILogger<RoomFanout> logger)
    {
        _metrics = metrics;
        _store = store;
        _bus = bus;
        _options = options;
        _time = time;
        _logger = logger;
        bus.Subscribe(Publish);
    }

    /// <summary>Rooms this node holds now.</summary>
    public int RoomCount => _rooms.Count;

    /// <summary>Raised once a room was released on this node: its loop completed and the bus let it go.</summary>
    public event Action<string>? Released;

    public bool Holds(string roomId) => _rooms.ContainsKey(roomId);

    /// <summary>Whether the room's loop on this node has started and waits for work (nothing queued or under way).</summary>
    public bool IsWaiting(string roomId) => _rooms.TryGetValue(roomId, out var room) && room.Waiting;

    private void Publish(RoomEvent roomEvent)
    {
        if (_rooms.TryGetValue(roomEvent.RoomId, out var room))
        {
            room.Post(roomEvent);
        }
    }

    /// <summary>Subscribes and returns the snapshot the subscriber's stream continues from.</summary>
    public async Task<RoomSnapshot> AttachAsync(string roomId, IRoomSubscriber subscriber)
    {
        var room = Hold(roomId, subscriber.Id, out var added);
        try
        {
            await room.Ready;
            while (true)
            {
                var snapshot = await _store.GetSnapshotAsync(roomId);
                var request = new AttachRequest(subscriber, snapshot);
                room.Post(request);
                if (await request.Result.Task)
                {
                    return await WithPendingApprovalsAsync(snapshot);
                }
            }
        }
        catch
        {
            if (added)
            {
                Unhold(room, subscriber.Id);
            }

            throw;
        }
    }

    /// <summary>
    /// Re-sends the events after <paramref name="afterSeq"/> to the subscriber, then keeps it subscribed;
    /// <c>reset</c> (and not subscribed) when that seq is no longer in the log, is above the room's last
    /// seq, or is more than <c>Chat:Rooms:MaxReplayEvents</c> behind.
    /// </summary>
    public async Task<ResumeResult> ResumeAsync(string roomId, IRoomSubscriber subscriber, long afterSeq)
    {
        var fromSeq = afterSeq == long.MaxValue ? long.MaxValue : afterSeq + 1;
        var room = Hold(roomId, subscriber.Id, out var added);
        try
        {
            await room.Ready;
            while (true)
            {
                var (reset, lastSeq, events) = await ReadReplayAsync(roomId, afterSeq);
                if (reset)
                {
                    if (added)
                    {
                        Unhold(room, subscriber.Id);
                    }

                    return new ResumeResult(roomId, fromSeq, lastSeq, true);
                }

                var request = new ResumeRequest(subscriber, afterSeq, events, lastSeq);
                room.Post(request);
                if (await request.Result.Task)
                {
                    return new ResumeResult(roomId, fromSeq, lastSeq, false);
                }
            }
        }
        catch
        {
            if (added)
            {
                Unhold(room, subscriber.Id);
            }

            throw;
        }
    }

    public void Detach(string roomId, string subscriberId)
    {
        if (_rooms.TryGetValue(roomId, out var room))
        {
            room.Post(new DetachRequest(subscriberId));
            Unhold(room, subscriberId);
        }
    }

    /// <summary>
    /// Releases every room nothing has held for <c>Chat:Rooms:IdleTime</c>, except those in
    /// <paramref name="busyRooms"/> (a reply runs there), and waits until their loops completed and
    /// the bus let them go.
    /// </summary>
    public async Task SweepAsync(IReadOnlySet<string> busyRooms)
    {
        var now = _time.GetUtcNow();
        var idleTime = _options.Value.IdleTime;
        var released = new List<Task>();
        foreach (var (roomId, room) in _rooms)
        {
            lock (room.Gate)
            {
                if (busyRooms.Contains(roomId))
                {
                    room.Touch(now);
                    continue;
                }

                if (!room.IsIdle(now, idleTime))
                {
                    continue;
                }

                // In this order, under the gate: a new owner made after the removal finds what it must wait for.
                room.Released = true;
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _releasing[roomId] = done.Task;
                _rooms.TryRemove(new KeyValuePair<string, LocalRoom>(roomId, room));
                released.Add(ReleaseAsync(roomId, room, done));
            }

            if (released.Count >= 256)
            {
                await Task.WhenAll(released);
                released.Clear();
            }
        }

        await Task.WhenAll(released);
    }

    private async Task ReleaseAsync(string roomId, LocalRoom room, TaskCompletionSource done)
    {
        try
        {
            await room.CompleteAsync();
            await _bus.UnwatchAsync(roomId);
        }
        catch (Exception ex)
        {
            FanoutLog.RoomReleaseFailed(_logger, roomId, ex);
        }
        finally
        {
            // The loop has ended (or failed): nothing of this room is delivered under its number any more.
            _numbers.Give(room.Number);
            done.TrySetResult();
            _releasing.TryRemove(new KeyValuePair<string, Task>(roomId, done.Task));
            Released?.Invoke(roomId);
        }
    }

    private LocalRoom Hold(string roomId, string holderId, out bool added)
    {
        while (true)
        {
            var room = _rooms.GetOrAdd(roomId, id => new LocalRoom(id, _bus, _numbers, _metrics, _time, _logger));
            lock (room.Gate)
            {
                if (room.Released)
                {
                    continue;
                }

                added = room.Holders.Add(holderId);
            }

            room.Start(_releasing.GetValueOrDefault(roomId));
            return room;
        }
    }

    private void Unhold(LocalRoom room, string holderId)
    {
        lock (room.Gate)
        {
            if (room.Holders.Remove(holderId) && room.Holders.Count == 0)
            {
                room.Touch(_time.GetUtcNow());
            }
        }
    }

    /// <summary>
    /// The snapshot with the running reply's tool calls that wait for a decision as of its <c>lastSeq</c>: read from the
    /// room's log after the reply's message, so that a member who joins while one waits sees it and may decide it.
    /// </summary>
    private async Task<RoomSnapshot> WithPendingApprovalsAsync(RoomSnapshot snapshot)
    {
        if (snapshot.ActiveGeneration is not { State: GenerationStates.Tool } active
            || snapshot.Messages.LastOrDefault(m => m.MessageId == active.MessageId) is not { Seq: > 0 } reply)
        {
            return snapshot;
        }

        var approvals = new Dictionary<string, ToolApprovalEvent>(StringComparer.Ordinal);
        var after = reply.Seq;
        while (after < snapshot.LastSeq && after - reply.Seq <= _options.Value.MaxReplayEvents)
        {
            var page = await _store.ReadAfterAsync(snapshot.RoomId, after, ReplayPage);
            if (page.Reset || page.Events.Count == 0)
            {
                break;
            }

            foreach (var e in page.Events)
            {
                if (e.Seq <= snapshot.LastSeq && e is ToolApprovalEvent approval && approval.GenerationId == active.GenerationId)
                {
                    approvals[approval.ApprovalId] = approval;
                }
            }

            after = page.Events[^1].Seq;
        }

        var pending = approvals.Values.Where(a => a.State == ApprovalStates.Pending).OrderBy(a => a.Seq).ToList();
        return pending.Count == 0 ? snapshot : snapshot with { PendingApprovals = pending };
    }

    /// <summary>The events after <paramref name="afterSeq"/> up to the room's last seq at the first read, read page by page.</summary>
    private async Task<(bool Reset, long LastSeq, List<RoomEvent> Events)> ReadReplayAsync(string roomId, long afterSeq)
    {
        var first = await _store.ReadAfterAsync(roomId, afterSeq, ReplayPage);
        var last = first.LastSeq;
        if (first.Reset || afterSeq > last || last - afterSeq > _options.Value.MaxReplayEvents)
        {
            return (true, last, []);
        }

        var events = new List<RoomEvent>(first.Events);
        var page = first.Events;
        while (page.Count == ReplayPage && events[^1].Seq < last)
        {
            var next = await _store.ReadAfterAsync(roomId, events[^1].Seq, ReplayPage);
            if (next.Reset)
            {
                return (true, next.LastSeq, []);
            }

            page = next.Events;
            events.AddRange(page.Where(e => e.Seq <= last));
        }

        return (false, last, events);
    }

    /// <summary>Joins with what was read for it; the loop answers false when it moved on past what it can fill in, so the caller reads again.</summary>
    private sealed record AttachRequest(IRoomSubscriber Subscriber, RoomSnapshot Snapshot)
    {
        public TaskCompletionSource<bool> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record ResumeRequest(IRoomSubscriber Subscriber, long AfterSeq, IReadOnlyList<RoomEvent> Events, long LastSeq)
    {
        public TaskCompletionSource<bool> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record DetachRequest(string SubscriberId);

    private sealed class Subscription(IRoomSubscriber subscriber, long deliveredSeq)
    {
        public IRoomSubscriber Subscriber { get; } = subscriber;

        public long DeliveredSeq { get; set; } = deliveredSeq;
    }

    private sealed class LocalRoom(string roomId, IRoomEventBus bus, RoomNumbers numbers, ChatMetrics metrics, TimeProvider time, ILogger logger) : IThreadPoolWorkItem
    {
        // Items one run of the loop handles before it lets the thread go and queues the rest: a busy room
        // does not hold a publishing thread (or a thread-pool thread) for longer than that.
        private const int ItemsPerRun = 64;

        private static readonly object Completed = new();

        private readonly ConcurrentQueue<object> _inbox = new();
        private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Queue<RoomEvent>? _recent;
        private long _seenSeq;
        private DateTimeOffset _idleSince = time.GetUtcNow();
        private Task? _loop;

        // 1 while a run of the loop is queued or under way (or the room is starting), 0 while it waits for work.
        private int _running = 1;
        private volatile bool _completing;
        private bool _done;

        /// <summary>Guards <see cref="Holders"/>, <see cref="Released"/> and the idle time.</summary>
        public Lock Gate { get; } = new();

        /// <summary>Subscribers that hold the room on this node; it may be released only when there are none.</summary>
        public HashSet<string> Holders { get; } = new(StringComparer.Ordinal);

        public bool Released { get; set; }

        /// <summary>The room's number on this node while its loop runs (<see cref="RoomNumbers"/>); 0 before.</summary>
        public int Number { get; private set; }

        /// <summary>Done once this node receives the room's events.</summary>
        public Task Ready => _ready.Task;

        public bool Waiting => Volatile.Read(ref _running) == 0;

        public void Touch(DateTimeOffset now) => _idleSince = now;

        public bool IsIdle(DateTimeOffset now, TimeSpan idleTime) => !Released && Holders.Count == 0 && now - _idleSince >= idleTime;

        public void Start(Task? predecessor)
        {
            lock (Gate)
            {
                _loop ??= RunAsync(predecessor);
            }
        }

        /// <summary>
        /// Queues an item for the room's loop, in the order posted. A loop that was waiting runs on this thread
        /// once the store that publishes lets its lock go (<see cref="WakeAfterLock"/>), else on the thread pool.
        /// </summary>
        public void Post(object item)
        {
            if (_completing)
            {
                return;
            }

            _inbox.Enqueue(item);
            Wake();
        }

        public Task CompleteAsync()
        {
            if (!_completing)
            {
                _completing = true;
                _inbox.Enqueue(Completed);
                Wake();
            }

            lock (Gate)
            {
                return _loop ?? Task.CompletedTask;
            }
        }

        private void Wake()
        {
            if (Interlocked.CompareExchange(ref _running, 1, 0) == 0 && !WakeAfterLock.TryDefer(this))
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        private async Task RunAsync(Task? predecessor)
        {
            // Runs on the thread pool from its first step, not inside the caller's lock.
            await Task.Yield();
            if (predecessor is not null)
            {
                await predecessor;
            }

            // Taken after the predecessor gave its number back, and given back once the room is released.
            Number = numbers.Take();

            // Joins and resumes wait for this before they read, so nothing falls between their read and the events.
            while (!_completing)
            {
                try
                {
                    await bus.WatchAsync(roomId);
                    _ready.TrySetResult();
                    break;
                }
                catch (Exception ex)
                {
                    FanoutLog.RoomLoopFailed(logger, roomId, ex);
                    // The bus counts interest per watch: the failed one is given back, so one release lets the room go.
                    await bus.UnwatchAsync(roomId).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    await Task.Delay(TimeSpan.FromSeconds(1), time);
                }
            }

            // What was posted while the room started waits in the inbox; the loop was held (running = 1) until now.
            Execute();
            await _finished.Task;
        }

        /// <summary>One run of the loop: handles what waits in the inbox, at most <see cref="ItemsPerRun"/> items.</summary>
        public void Execute()
        {
            if (_done)
            {
                return;
            }

            var handled = 0;
            while (true)
            {
                while (_inbox.TryDequeue(out var item))
                {
                    if (ReferenceEquals(item, Completed))
                    {
                        Finish();
                        return;
                    }

                    try
                    {
                        if (item is TokenEvent token && _inbox.TryPeek(out var next) && TokenRun.Continues(token, next))
                        {
                            DeliverRun(TokenRun.Take(token, _inbox));
                        }
                        else
                        {
                            Handle(item);
                        }
                    }
                    catch (Exception ex)
                    {
                        FanoutLog.RoomLoopFailed(logger, roomId, ex);
                        Fail(item, ex);
                    }

                    if (++handled >= ItemsPerRun && !_inbox.IsEmpty)
                    {
                        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                        return;
                    }
                }

                // Waits for work again; what was posted between the last read and this is taken by the next Wake or by this run.
                Volatile.Write(ref _running, 0);
                if (_inbox.IsEmpty || Interlocked.CompareExchange(ref _running, 1, 0) != 0)
                {
                    return;
                }
            }
        }

        private void Finish()
        {
            _done = true;
            _inbox.Clear();
            if (_subscriptions.Count > 0)
            {
                _subscriptions.Clear();
                metrics.RoomDeactivated();
            }

            _finished.TrySetResult();
        }

        private void Handle(object item)
        {
            switch (item)
            {
                case RoomEvent roomEvent:
                    Deliver(roomEvent);
                    break;
                case AttachRequest attach:
                    Attach(attach);
                    break;
                case ResumeRequest resume:
                    Resume(resume);
                    break;
                case DetachRequest detach:
                    if (_subscriptions.Remove(detach.SubscriberId) && _subscriptions.Count == 0)
                    {
                        metrics.RoomDeactivated();
                    }

                    break;
            }
        }

        private void Remember(RoomEvent roomEvent)
        {
            if (roomEvent.Seq <= _seenSeq)
            {
                return;
            }

            _seenSeq = roomEvent.Seq;
            _recent ??= new Queue<RoomEvent>();
            _recent.Enqueue(roomEvent);
            if (_recent.Count > RecentEvents)
            {
                _recent.Dequeue();
            }
        }

        /// <summary>True when every event this loop delivered after <paramref name="seq"/> is still in memory here.</summary>
        private bool CanFillAfter(long seq) =>
            _seenSeq <= seq || (_recent is { Count: > 0 } recent && recent.Peek().FirstCoveredSeq <= seq + 1);

        private void FillFromRecent(Subscription subscription)
        {
            if (_recent is null || _seenSeq <= subscription.DeliveredSeq)
            {
                return;
            }

            foreach (var roomEvent in _recent)
            {
                if (roomEvent.Seq > subscription.DeliveredSeq)
                {
                    subscription.DeliveredSeq = roomEvent.Seq;
                    subscription.Subscriber.Deliver(new OutgoingEvent(roomEvent, Number));
                }
            }
        }

        private void Deliver(RoomEvent roomEvent)
        {
            if (roomEvent is TypingEvent typing)
            {
                DeliverEphemeral(typing, typing.UserId);
                return;
            }

            Remember(roomEvent);
            OutgoingEvent? outgoing = null;
            foreach (var subscription in _subscriptions.Values)
            {
                if (roomEvent.Seq <= subscription.DeliveredSeq)
                {
                    continue;
                }

                outgoing ??= new OutgoingEvent(roomEvent, Number);
                subscription.DeliveredSeq = roomEvent.Seq;
                subscription.Subscriber.Deliver(outgoing);
            }
        }

        /// <summary>An ephemeral event goes to every member's hub connection but the sender's, whatever its position in the room's seq.</summary>
        private void DeliverEphemeral(RoomEvent roomEvent, string senderId)
        {
            OutgoingEvent? outgoing = null;
            foreach (var subscription in _subscriptions.Values)
            {
                if (subscription.Subscriber.UserId is { } userId && userId != senderId)
                {
                    outgoing ??= new OutgoingEvent(roomEvent, Number);
                    subscription.Subscriber.Deliver(outgoing);
                }
            }
        }

        /// <summary>
        /// Delivers deltas that were waiting together as one event, serialized once for every member
        /// it reaches whole; a member whose stream starts inside the run gets just the rest.
        /// </summary>
        private void DeliverRun(TokenRun run)
        {
            foreach (var token in run.Tokens)
            {
                Remember(token);
            }

            OutgoingEvent? joined = null;
            foreach (var subscription in _subscriptions.Values)
            {
                if (run.LastSeq <= subscription.DeliveredSeq)
                {
                    continue;
                }

                if (subscription.DeliveredSeq < run.FirstSeq)
                {
                    joined ??= new OutgoingEvent(run.Joined(), Number);
                    subscription.Subscriber.Deliver(joined);
                }
                else
                {
                    subscription.Subscriber.Deliver(new OutgoingEvent(run.After(subscription.DeliveredSeq), Number));
                }

                subscription.DeliveredSeq = run.LastSeq;
            }

            metrics.TokensJoined(run.Count - 1);
        }

        private void Attach(AttachRequest attach)
        {
            // Everything up to the snapshot's lastSeq is in the snapshot: events still in the inbox at or
            // below it are skipped for this subscriber, those this loop delivered after it are sent now.
            var lastSeq = attach.Snapshot.LastSeq;
            if (!CanFillAfter(lastSeq))
            {
                attach.Result.TrySetResult(false);
                return;
            }

            var id = attach.Subscriber.Id;
            if (_subscriptions.TryGetValue(id, out var subscription))
            {
                subscription.Subscriber.Seal();
                subscription.DeliveredSeq = lastSeq;
            }
            else
            {
                subscription = new Subscription(attach.Subscriber, lastSeq);
                Subscribe(id, subscription);
            }

            FillFromRecent(subscription);
            attach.Result.TrySetResult(true);
        }

        private void Resume(ResumeRequest resume)
        {
            if (!CanFillAfter(resume.LastSeq))
            {
                resume.Result.TrySetResult(false);
                return;
            }

            var id = resume.Subscriber.Id;
            if (!_subscriptions.TryGetValue(id, out var subscription))
            {
                subscription = new Subscription(resume.Subscriber, resume.AfterSeq);
                Subscribe(id, subscription);
            }
            else
            {
                // Events already sent to this subscriber after afterSeq are sent again: it asked for them.
                subscription.DeliveredSeq = resume.AfterSeq;
                subscription.Subscriber.Seal();
            }

            foreach (var roomEvent in resume.Events)
            {
                if (roomEvent.Seq > subscription.DeliveredSeq)
                {
                    subscription.DeliveredSeq = roomEvent.Seq;
                    subscription.Subscriber.Deliver(new OutgoingEvent(roomEvent, Number));
                }
            }

            subscription.DeliveredSeq = Math.Max(subscription.DeliveredSeq, resume.LastSeq);
            FillFromRecent(subscription);
            resume.Result.TrySetResult(true);
        }

        private void Subscribe(string id, Subscription subscription)
        {
            subscription.Subscriber.Numbered(roomId, Number);
            _subscriptions[id] = subscription;
            if (_subscriptions.Count == 1)
            {
                metrics.RoomActivated();
            }
        }

        private static void Fail(object item, Exception ex)
        {
            switch (item)
            {
                case AttachRequest attach:
                    attach.Result.TrySetException(ex);
                    break;
                case ResumeRequest resume:
                    resume.Result.TrySetException(ex);
                    break;
            }
        }
    }
}

/// <summary>
/// Consecutive token deltas of one generation that were already waiting in a room's inbox when its
/// loop came to them: the model yielded faster than the room was delivering. They go out as one
/// event (<c>firstSeq..seq</c>, the same text in the same order), so a burst costs one send per
/// member instead of one per delta, and nothing waits for more to arrive.
/// </summary>
internal sealed class TokenRun
{
    /// <summary>Deltas joined at most into one event, so one event stays small.</summary>
    public const int MaxTokens = 256;

    private readonly List<TokenEvent> _tokens;

    private TokenRun(List<TokenEvent> tokens) => _tokens = tokens;

    public int Count => _tokens.Count;

    public IReadOnlyList<TokenEvent> Tokens => _tokens;

    public long FirstSeq => _tokens[0].FirstCoveredSeq;

    public long LastSeq => _tokens[^1].Seq;

    public static bool Continues(TokenEvent token, object next) =>
        next is TokenEvent following && following.GenerationId == token.GenerationId && following.FirstCoveredSeq == token.Seq + 1;

    /// <summary>Takes <paramref name="first"/> and the deltas right behind it in <paramref name="reader"/>.</summary>
    public static TokenRun Take(TokenEvent first, ConcurrentQueue<object> reader)
    {
        var tokens = new List<TokenEvent> { first };
        while (tokens.Count < MaxTokens && reader.TryPeek(out var next) && Continues(tokens[^1], next) && reader.TryDequeue(out _))
        {
            tokens.Add((TokenEvent)next);
        }

        return new TokenRun(tokens);
    }

    public TokenEvent Joined() => Join(0);

    /// <summary>One event for the deltas <paramref name="first"/>..<paramref name="last"/>, whose texts joined are <paramref name="text"/>.</summary>
    public static TokenEvent Spanning(TokenEvent first, TokenEvent last, string text) => last with { Text = text, FirstSeq = first.FirstCoveredSeq };

    /// <summary>The part of the run after <paramref name="deliveredSeq"/>.</summary>
    public TokenEvent After(long deliveredSeq) => Join(_tokens.FindIndex(t => t.Seq > deliveredSeq));

    private TokenEvent Join(int from)
    {
        if (from == _tokens.Count - 1)
        {
            return _tokens[from];
        }

        var text = new System.Text.StringBuilder();
        for (var i = from; i < _tokens.Count; i++)
        {
            text.Append(_tokens[i].Text);
        }

        return Spanning(_tokens[from], _tokens[^1], text.ToString());
    }
}
