using System.Text;
using SignalRChat.Contracts;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Fanout;

/// <summary>
/// The events waiting for one reader that has fallen behind. A token delta that arrives right
/// behind a waiting delta of the same generation joins it, so a lagging reader holds one growing
/// delta per reply instead of an ever longer queue; it is sent as one event with the last seq of
/// the run (and the first in <c>firstSeq</c>). The text is the same and the order never changes.
/// Not thread-safe: its owner locks.
/// </summary>
internal sealed class OutboundQueue
{
    private readonly Queue<Entry> _entries = new();
    private Entry? _tail;

    public int Count => _entries.Count;

    /// <summary>Queues the event; true when it joined the waiting token delta instead (coalesced).</summary>
    public bool Enqueue(OutgoingEvent outgoing)
    {
        if (outgoing.Event is TokenEvent token && _tail is { } tail && tail.TryJoin(token))
        {
            return true;
        }

        _tail = new Entry(outgoing);
        _entries.Enqueue(_tail);
        return false;
    }

    public OutgoingEvent Dequeue()
    {
        var entry = _entries.Dequeue();
        if (ReferenceEquals(entry, _tail))
        {
            _tail = null;
        }

        return entry.ToOutgoing();
    }

    public void Clear()
    {
        _entries.Clear();
        _tail = null;
    }

    /// <summary>Nothing joins what is waiting now: the reader's position was set anew (a rejoin or a resume).</summary>
    public void Seal() => _tail = null;

    private sealed class Entry(OutgoingEvent first)
    {
        private StringBuilder? _text;
        private TokenEvent? _last;

        public bool TryJoin(TokenEvent next)
        {
            // Only the delta right after the run joins it, so a run always covers firstSeq..seq in order.
            if (first.Event is not TokenEvent token || !TokenRun.Continues(_last ?? token, next))
            {
                return false;
            }

            _text ??= new StringBuilder(token.Text);
            _text.Append(next.Text);
            _last = next;
            return true;
        }

        public OutgoingEvent ToOutgoing()
        {
            if (_last is null || first.Event is not TokenEvent token)
            {
                return first;
            }

            return new OutgoingEvent(TokenRun.Spanning(token, _last, _text!.ToString()), first.RoomNumber);
        }
    }
}

/// <summary>
/// A subscriber read by one async loop (an SSE or NDJSON response): events wait in an
/// <see cref="OutboundQueue"/> up to a bound; past it the stream ends so the reader can come
/// back with its last seq.
/// </summary>
internal sealed class QueuedSubscriber(string id, int maxQueued, ChatMetrics metrics) : IRoomSubscriber
{
    private readonly Lock _lock = new();
    private readonly OutboundQueue _queue = new();
    private readonly SemaphoreSlim _signal = new(0);
    private bool _overflowed;

    public string Id { get; } = id;

    public void Deliver(OutgoingEvent outgoing)
    {
        lock (_lock)
        {
            if (_overflowed)
            {
                return;
            }

            if (_queue.Count >= maxQueued)
            {
                _overflowed = true;
                _queue.Clear();
                metrics.SlowReaderDisconnected();
            }
            else if (_queue.Enqueue(outgoing))
            {
                metrics.TokenCoalesced();
            }
        }

        _signal.Release();
    }

    /// <summary>
    /// The next event; <see cref="QueuedRead.Idle"/> when nothing came for <paramref name="idle"/>;
    /// <see cref="QueuedRead.Overflowed"/> when the reader fell too far behind and should come back with its last seq.
    /// </summary>
    public async ValueTask<(QueuedRead Result, OutgoingEvent? Event)> ReadAsync(TimeSpan idle, CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_lock)
            {
                if (_overflowed)
                {
                    return (QueuedRead.Overflowed, null);
                }

                if (_queue.Count > 0)
                {
                    return (QueuedRead.Event, _queue.Dequeue());
                }
            }

            if (!await _signal.WaitAsync(idle, cancellationToken))
            {
                return (QueuedRead.Idle, null);
            }
        }
    }

    public void Seal()
    {
        lock (_lock)
        {
            _queue.Seal();
        }
    }

    /// <summary>True when another event is already waiting (so a flush can wait for it).</summary>
    public bool HasMore
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count > 0;
            }
        }
    }
}

internal enum QueuedRead
{
    Event,
    Idle,
    Overflowed,
}
