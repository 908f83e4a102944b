using System.Collections.Concurrent;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// This node's subscriptions to room channels (sharded pub/sub), reference-counted like aspnetcore's
/// <c>RedisSubscriptionManager</c>: subscribed on the first interest, unsubscribed on the last, with
/// everything kept for the room let go then. Events are handed to this node's subscribers in seq
/// order: a jump in seq (messages published while this node was not subscribed) is first filled
/// from the room's log. After Redis comes back every watched room is subscribed afresh.
/// </summary>
internal sealed class RoomSubscriptions(IConnectionMultiplexer redis, ILogger logger)
{
    private static readonly TimeSpan RewatchRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxRewatchRetry = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Watched> _rooms = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private Func<string, long, Task<EventRange>>? _readAfter;
    private Action<RoomEvent>? _subscribers;
    private int _rewatchRound;
    private int _restoreHooked;

    /// <summary>Rooms subscribed on this node now.</summary>
    public int Count => _rooms.Count;

    /// <summary>Where missed events are read from (the room's log).</summary>
    public void ReadMissedFrom(Func<string, long, Task<EventRange>> readAfter) => _readAfter = readAfter;

    public void Subscribe(Action<RoomEvent> handler) => _subscribers += handler;

    /// <summary>One more interest in the room; completes once this node receives its events.</summary>
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

        lock (_lock)
        {
            var watched = _rooms.GetOrAdd(roomId, static id => new Watched(id));
            watched.Interest++;
            if (watched.Subscribed is null || watched.Subscribed.IsFaulted || watched.Subscribed.IsCanceled)
            {
                // A subscription that failed (Redis was down) is tried again, not remembered as failed.
                watched.Subscribed = SubscribeAsync(watched);
            }

            return watched.Subscribed;
        }
    }

    /// <summary>One interest less; on the last the channel is unsubscribed and the room's entries removed.</summary>
    public async Task UnwatchAsync(string roomId)
    {
        Watched? released = null;
        lock (_lock)
        {
            if (_rooms.TryGetValue(roomId, out var watched) && --watched.Interest <= 0)
            {
                _rooms.TryRemove(roomId, out _);
                released = watched;
            }
        }

        if (released is not null)
        {
            // Awaited, not fired and forgotten: once this returns, Redis no longer sends the room's channel to this node.
            if (released.Queue is { } queue)
            {
                await queue.UnsubscribeAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await redis.GetSubscriber().UnsubscribeAsync(RedisKeys.RoomChannel(roomId)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>The highest seq this node has seen of a room (from writes, snapshots or the channel).</summary>
    public long LastSeq(string roomId) => _rooms.TryGetValue(roomId, out var watched) ? Volatile.Read(ref watched.LastSeq) : 0;

    public void Saw(string roomId, long seq)
    {
        if (_rooms.TryGetValue(roomId, out var watched))
        {
            Raise(ref watched.LastSeq, seq);
        }
    }

    /// <summary>Gives an event to this node's subscribers (in seq order: callers hold the room's order).</summary>
    public void HandOut(RoomEvent roomEvent)
    {
        if (_rooms.TryGetValue(roomEvent.RoomId, out var watched))
        {
            Raise(ref watched.LastSeq, roomEvent.Seq);
            Raise(ref watched.HandedOut, roomEvent.Seq);
        }

        _subscribers?.Invoke(roomEvent);
    }

    /// <summary>
    /// Hands out an event read from the room's channel or log; a room loop it wakes runs on this thread
    /// (the channel's reader, one room's messages at a time) instead of taking another trip through the pool.
    /// </summary>
    private void HandOutHere(RoomEvent roomEvent)
    {
        using (WakeAfterLock.Begin())
        {
            HandOut(roomEvent);
        }
    }

    private static void Raise(ref long target, long seq)
    {
        var known = Volatile.Read(ref target);
        while (seq > known)
        {
            var seen = Interlocked.CompareExchange(ref target, seq, known);
            if (seen == known)
            {
                return;
            }

            known = seen;
        }
    }

    private async Task SubscribeAsync(Watched watched)
    {
        // A queue (not a handler) so messages are handled one at a time, in the order Redis sent them.
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisKeys.RoomChannel(watched.RoomId));
        watched.Queue = queue;
        queue.OnMessage(async message =>
        {
            RoomEvent received;
            try
            {
                received = EventCodec.Decode(((ReadOnlyMemory<byte>)message.Message).Span);
            }
            catch (Exception ex)
            {
                RedisLog.BadMessage(logger, watched.RoomId, ex);
                return;
            }

            if (received.IsEphemeral)
            {
                // No seq (typing): it takes no part in the catch-up and goes straight to the room's subscribers here.
                HandOutHere(received);
                return;
            }

            await CatchUpAsync(watched, received);
        });
    }

    /// <summary>
    /// After the subscription connection comes back (a Redis restart), every room is subscribed
    /// afresh and what was published meanwhile is read from the room's log. A room whose subscription
    /// or read fails (Redis is still coming up) is tried again until it succeeds or a later
    /// reconnection starts over.
    /// </summary>
    private async Task RewatchAsync()
    {
        var round = Interlocked.Increment(ref _rewatchRound);
        var waiting = new HashSet<string>(_rooms.Keys, StringComparer.Ordinal);
        var subscribed = new HashSet<string>(StringComparer.Ordinal);
        var pause = RewatchRetry;
        while (waiting.Count > 0 && round == Volatile.Read(ref _rewatchRound))
        {
            foreach (var roomId in waiting.ToList())
            {
                if (!_rooms.TryGetValue(roomId, out var watched))
                {
                    waiting.Remove(roomId);
                    continue;
                }

                try
                {
                    if (!subscribed.Contains(roomId))
                    {
                        watched.Queue?.Unsubscribe();
                        await redis.GetSubscriber().UnsubscribeAsync(RedisKeys.RoomChannel(roomId));
                        Task subscribing;
                        lock (_lock)
                        {
                            subscribing = watched.Subscribed = SubscribeAsync(watched);
                        }

                        await subscribing;
                        // Subscribed: what comes on the channel from now on is received, so a catch-up that fails below is
                        // tried again on its own, never by dropping the subscription (which would miss events once more).
                        subscribed.Add(roomId);
                    }

                    await CatchUpAsync(watched, null);
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

    /// <summary>
    /// Hands out an event that came on the room's channel (or, with null, just what the log holds past
    /// what this node handed out), reading the missed ones first. One room's catch-ups run one at a time.
    /// </summary>
    private async Task CatchUpAsync(Watched watched, RoomEvent? received)
    {
        await watched.Gate.WaitAsync();
        try
        {
            var handedOut = Volatile.Read(ref watched.HandedOut);
            if (received is not null && (received.Seq <= handedOut + 1 || handedOut == 0))
            {
                HandOutHere(received);
                return;
            }

            try
            {
                var range = _readAfter is null ? new EventRange(false, 0, []) : await ReadMissedAsync(watched.RoomId, handedOut);
                foreach (var missed in range.Reset ? [] : range.Events)
                {
                    if (received is null || missed.Seq < received.Seq)
                    {
                        HandOutHere(missed);
                    }
                }
            }
            catch (Exception ex) when (received is not null)
            {
                // The event still goes out; a member that sees the gap resumes.
                RedisLog.CatchUpFailed(logger, watched.RoomId, ex.GetType().Name);
            }

            if (received is not null)
            {
                HandOutHere(received);
            }
        }
        finally
        {
            watched.Gate.Release();
        }
    }

    /// <summary>
    /// The events past <paramref name="handedOut"/> that the room's log still holds. When the log no longer reaches back
    /// that far (a room Redis lost was rebuilt from the record with its seq set above everything stored, or the log was
    /// trimmed), what it does hold is read: its oldest readable point is found by halving, a few reads in this rare case.
    /// Members skip what they already have by seq, so nothing published while this node was not subscribed is lost.
    /// </summary>
    private async Task<EventRange> ReadMissedAsync(string roomId, long handedOut)
    {
        var range = await _readAfter!(roomId, handedOut);
        if (!range.Reset || range.LastSeq <= handedOut)
        {
            return range;
        }

        // Reading after `low` resets, reading after `high` (the last seq) does not.
        long low = handedOut, high = range.LastSeq;
        while (high - low > 1)
        {
            var middle = low + ((high - low) / 2);
            if ((await _readAfter(roomId, middle)).Reset)
            {
                low = middle;
            }
            else
            {
                high = middle;
            }
        }

        return await _readAfter(roomId, high);
    }

    private sealed class Watched(string roomId)
    {
        public long LastSeq;
        public long HandedOut;

        public string RoomId { get; } = roomId;

        public int Interest { get; set; }

        public Task? Subscribed { get; set; }

        public ChannelMessageQueue? Queue { get; set; }

        public SemaphoreSlim Gate { get; } = new(1, 1);
    }
}
