using System.Collections.Concurrent;
using System.Threading.Channels;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Fanout;

/// <summary>
/// Delivers each room's ordered event stream to this node's subscribers of that room. One loop per
/// room handles events, joins and resumes in one order, so a subscriber's view starts exactly
/// after its snapshot or resume point: no gap, no duplicate.
/// </summary>
internal sealed class RoomFanout
{
    private readonly ConcurrentDictionary<string, LocalRoom> _rooms = new(StringComparer.Ordinal);
    private readonly IRoomStore _store;
    private readonly IRoomEventBus _bus;
    private readonly ILogger<RoomFanout> _logger;
    private readonly ChatMetrics _metrics;

    public RoomFanout(IRoomEventBus bus, IRoomStore store, ChatMetrics metrics, ILogger<RoomFanout> logger)
    {
        _metrics = metrics;
        _store = store;
        _bus = bus;
        _logger = logger;
        bus.Subscribe(Publish);
    }

    public int RoomCount => _rooms.Count;

    private void Publish(RoomEvent roomEvent)
    {
        if (_rooms.TryGetValue(roomEvent.RoomId, out var room))
        {
            room.Post(roomEvent);
        }
    }

    /// <summary>Subscribes and returns the snapshot the subscriber's stream continues from.</summary>
    public Task<RoomSnapshot> AttachAsync(string roomId, IRoomSubscriber subscriber)
    {
        var request = new AttachRequest(subscriber);
        Room(roomId).Post(request);
        return request.Result.Task;
    }

    /// <summary>Re-sends the events after <paramref name="afterSeq"/> to the subscriber, then keeps it subscribed.</summary>
    public Task<ResumeResult> ResumeAsync(string roomId, IRoomSubscriber subscriber, long afterSeq)
    {
        var request = new ResumeRequest(subscriber, afterSeq);
        Room(roomId).Post(request);
        return request.Result.Task;
    }

    public void Detach(string roomId, string subscriberId)
    {
        if (_rooms.TryGetValue(roomId, out var room))
        {
            room.Post(new DetachRequest(subscriberId));
        }
    }

    private LocalRoom Room(string roomId) => _rooms.GetOrAdd(roomId, id => new LocalRoom(id, _store, _bus, _metrics, _logger));

    private sealed record AttachRequest(IRoomSubscriber Subscriber)
    {
        public TaskCompletionSource<RoomSnapshot> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record ResumeRequest(IRoomSubscriber Subscriber, long AfterSeq)
    {
        public TaskCompletionSource<ResumeResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record DetachRequest(string SubscriberId);

    private sealed class Subscription(IRoomSubscriber subscriber, long deliveredSeq)
    {
        public IRoomSubscriber Subscriber { get; } = subscriber;

        public long DeliveredSeq { get; set; } = deliveredSeq;
    }

    private sealed class LocalRoom
    {
        private readonly Channel<object> _inbox = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
        private readonly string _roomId;
        private readonly IRoomStore _store;
        private readonly IRoomEventBus _bus;
        private readonly ILogger _logger;
        private readonly ChatMetrics _metrics;

        public LocalRoom(string roomId, IRoomStore store, IRoomEventBus bus, ChatMetrics metrics, ILogger logger)
        {
            _metrics = metrics;
            _roomId = roomId;
            _store = store;
            _bus = bus;
            _logger = logger;
            _ = Task.Run(RunAsync);
        }

        public void Post(object item) => _inbox.Writer.TryWrite(item);

        private async Task RunAsync()
        {
            // Joins and resumes wait in the inbox until this node receives the room's events.
            while (true)
            {
                try
                {
                    await _bus.WatchAsync(_roomId);
                    break;
                }
                catch (Exception ex)
                {
                    FanoutLog.RoomLoopFailed(_logger, _roomId, ex);
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            }

            var reader = _inbox.Reader;
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var item))
                {
                    try
                    {
                        if (item is TokenEvent token && reader.TryPeek(out var next) && TokenRun.Continues(token, next))
                        {
                            DeliverRun(TokenRun.Take(token, reader));
                            continue;
                        }

                        await HandleAsync(item);
                    }
                    catch (Exception ex)
                    {
                        FanoutLog.RoomLoopFailed(_logger, _roomId, ex);
                        Fail(item, ex);
                    }
                }
            }
        }

        private ValueTask HandleAsync(object item)
        {
            switch (item)
            {
                case RoomEvent roomEvent:
                    Deliver(roomEvent);
                    return ValueTask.CompletedTask;
                case AttachRequest attach:
                    return AttachAsync(attach);
                case ResumeRequest resume:
                    return ResumeAsync(resume);
                case DetachRequest detach:
                    if (_subscriptions.Remove(detach.SubscriberId) && _subscriptions.Count == 0)
                    {
                        _metrics.RoomDeactivated();
                    }

                    return ValueTask.CompletedTask;
                default:
                    return ValueTask.CompletedTask;
            }
        }

        private void Deliver(RoomEvent roomEvent)
        {
            if (roomEvent is TypingEvent typing)
            {
                DeliverEphemeral(typing, typing.UserId);
                return;
            }

            OutgoingEvent? outgoing = null;
            foreach (var subscription in _subscriptions.Values)
            {
                if (roomEvent.Seq <= subscription.DeliveredSeq)
                {
                    continue;
                }

                outgoing ??= new OutgoingEvent(roomEvent);
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
                    outgoing ??= new OutgoingEvent(roomEvent);
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
            OutgoingEvent? joined = null;
            foreach (var subscription in _subscriptions.Values)
            {
                if (run.LastSeq <= subscription.DeliveredSeq)
                {
                    continue;
                }

                if (subscription.DeliveredSeq < run.FirstSeq)
                {
                    joined ??= new OutgoingEvent(run.Joined());
                    subscription.Subscriber.Deliver(joined);
                }
                else
                {
                    subscription.Subscriber.Deliver(new OutgoingEvent(run.After(subscription.DeliveredSeq)));
                }

                subscription.DeliveredSeq = run.LastSeq;
            }

            _metrics.TokensJoined(run.Count - 1);
        }

        private async ValueTask AttachAsync(AttachRequest attach)
        {
            // Everything up to the snapshot's lastSeq is in the snapshot; events still in the inbox
            // with a seq at or below it are skipped for this subscriber.
            var snapshot = await _store.GetSnapshotAsync(_roomId);
            var id = attach.Subscriber.Id;
            if (_subscriptions.TryGetValue(id, out var existing))
            {
                existing.DeliveredSeq = Math.Max(existing.DeliveredSeq, snapshot.LastSeq);
                existing.Subscriber.Seal();
            }
            else
            {
                Subscribe(id, new Subscription(attach.Subscriber, snapshot.LastSeq));
            }

            attach.Result.TrySetResult(snapshot);
        }

        private async ValueTask ResumeAsync(ResumeRequest resume)
        {
            var range = await _store.ReadAfterAsync(_roomId, resume.AfterSeq);
            if (range.Reset)
            {
                resume.Result.TrySetResult(new ResumeResult(_roomId, resume.AfterSeq + 1, range.LastSeq, true));
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

            foreach (var roomEvent in range.Events)
            {
                if (roomEvent.Seq > subscription.DeliveredSeq)
                {
                    subscription.DeliveredSeq = roomEvent.Seq;
                    subscription.Subscriber.Deliver(new OutgoingEvent(roomEvent));
                }
            }

            subscription.DeliveredSeq = Math.Max(subscription.DeliveredSeq, range.LastSeq);
            resume.Result.TrySetResult(new ResumeResult(_roomId, resume.AfterSeq + 1, range.LastSeq, false));
        }

        private void Subscribe(string id, Subscription subscription)
        {
            _subscriptions[id] = subscription;
            if (_subscriptions.Count == 1)
            {
                _metrics.RoomActivated();
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

    public long FirstSeq => _tokens[0].FirstCoveredSeq;

    public long LastSeq => _tokens[^1].Seq;

    public static bool Continues(TokenEvent token, object next) =>
        next is TokenEvent following && following.GenerationId == token.GenerationId && following.FirstCoveredSeq == token.Seq + 1;

    /// <summary>Takes <paramref name="first"/> and the deltas right behind it in <paramref name="reader"/>.</summary>
    public static TokenRun Take(TokenEvent first, System.Threading.Channels.ChannelReader<object> reader)
    {
        var tokens = new List<TokenEvent> { first };
        while (tokens.Count < MaxTokens && reader.TryPeek(out var next) && Continues(tokens[^1], next) && reader.TryRead(out _))
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
