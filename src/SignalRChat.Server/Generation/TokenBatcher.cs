using System.Text;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Generation;

/// <summary>
/// Appends a generation's text deltas to the room without making the model wait for each write.
/// While one token event is being written (a Redis round trip), the deltas the model yields
/// meanwhile gather and go out as the next event, so a fast model is not held to one delta per
/// round trip and the room's log carries fewer, larger deltas. When a write completes at once (the
/// in-memory store), a delta is written on the model's own thread as it comes, unless it follows the
/// last write within <c>Chat:Fanout:JoinGap</c> (1 ms): a model yielding that fast (a burst of chunks from one
/// read, a model as fast as the machine) has its next write handed to the thread pool, and what it
/// yields until that write runs goes out joined with it. Nothing waits for more text to arrive: a
/// gathered delta is written as soon as the write before it is done, and at a model's pace (deltas
/// milliseconds apart) every delta is its own event, as the model yielded it.
/// </summary>
internal sealed class TokenBatcher(IRoomStore store, string roomId, string generationId, TimeSpan deliveryWindow = default, TimeProvider? time = null,
    TimeSpan? joinGap = null)
{
    /// <summary>
    /// By default a delta that comes sooner than this after the last write finished is written from the
    /// thread pool, so the deltas behind it join it (<c>Chat:Fanout:JoinGap</c>). Far below any model's
    /// pace between deltas (tens of milliseconds), far above the time one write takes in memory (microseconds).
    /// </summary>
    internal static readonly TimeSpan DefaultJoinGap = TimeSpan.FromMilliseconds(1);

    private readonly long _joinGapTicks = (long)((joinGap ?? DefaultJoinGap).TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _lastWriteDone;
    private readonly Lock _lock = new();
    private long _lastWriteAt;
    private TaskCompletionSource? _wake;
    private readonly StringBuilder _pending = new();
    private readonly StringBuilder _written = new();
    private bool _writing;
    private TaskCompletionSource? _idle;
    private Exception? _failure;

    /// <summary>Queues a delta; writes it at once unless a write is under way (then it goes out with the next one).</summary>
    public void Add(string text)
    {
        lock (_lock)
        {
            ThrowIfFailed();
            _pending.Append(text);
            if (_writing)
            {
                return;
            }

            _writing = true;
        }

        if (_lastWriteDone != 0 && System.Diagnostics.Stopwatch.GetTimestamp() - _lastWriteDone < _joinGapTicks)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static batcher => _ = batcher.WriteAsync(), this, preferLocal: false);
        }
        else
        {
            _ = WriteAsync();
        }
    }

    /// <summary>The text of the deltas written to the room so far: after a flush, the reply as members have it.</summary>
    public string Written
    {
        get
        {
            lock (_lock)
            {
                return _written.ToString();
            }
        }
    }

    /// <summary>Waits until every delta added so far is in the room, so the next event (a status, a tool's progress) follows them.</summary>
    public async ValueTask FlushAsync()
    {
        Task idle;
        lock (_lock)
        {
            ThrowIfFailed();
            if (!_writing)
            {
                return;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            idle = _idle.Task;

            // What waits for the delivery window goes out now: the next event must follow it.
            _wake?.TrySetResult();
        }

        await idle;
        lock (_lock)
        {
            ThrowIfFailed();
        }
    }

    private async Task WriteAsync()
    {
        try
        {
            while (true)
            {
                await WaitOutWindowAsync();
                string text;
                lock (_lock)
                {
                    if (_pending.Length == 0)
                    {
                        _writing = false;
                        _idle?.TrySetResult();
                        _idle = null;
                        return;
                    }

                    text = _pending.ToString();
                    _pending.Clear();
                }

                _lastWriteAt = _time.GetTimestamp();
                await store.AppendAsync(new TokenEvent(roomId, generationId, text), CancellationToken.None);
                lock (_lock)
                {
                    _written.Append(text);
                }

                Volatile.Write(ref _lastWriteDone, System.Diagnostics.Stopwatch.GetTimestamp());
            }
        }
        catch (Exception ex)
        {
            lock (_lock)
            {
                _failure = ex;
                _pending.Clear();
                _writing = false;
                _idle?.TrySetResult();
                _idle = null;
            }
        }
    }

    /// <summary>
    /// With a delivery window (<c>Chat:Fanout:DeliveryWindow</c>), at most one token event a window:
    /// the deltas that arrive meanwhile go out joined as the next one. A model slower than the window
    /// is not held at all; a flush (a status or tool event comes next, or the end) does not wait.
    /// </summary>
    private async Task WaitOutWindowAsync()
    {
        if (deliveryWindow <= TimeSpan.Zero || _lastWriteAt == 0)
        {
            return;
        }

        var rest = deliveryWindow - _time.GetElapsedTime(_lastWriteAt);
        if (rest <= TimeSpan.Zero)
        {
            return;
        }

        Task wake;
        lock (_lock)
        {
            if (_idle is not null)
            {
                return;
            }

            _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wake = _wake.Task;
        }

        await Task.WhenAny(Task.Delay(rest, _time), wake);
        lock (_lock)
        {
            _wake = null;
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
        }
    }
}
