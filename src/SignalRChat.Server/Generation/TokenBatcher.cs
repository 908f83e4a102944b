using System.Text;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Generation;

/// <summary>
/// Appends a generation's text deltas to the room without making the model wait for each write.
/// While one token event is being written (a Redis round trip), the deltas the model yields
/// meanwhile gather and go out as the next event, so a fast model is not held to one delta per
/// round trip and the room's log carries fewer, larger deltas. When a write completes at once (the
/// in-memory store), every delta is its own event, as the model yielded it. Nothing waits for more
/// text to arrive: a gathered delta is written as soon as the write before it is done.
/// </summary>
internal sealed class TokenBatcher(IRoomStore store, string roomId, string generationId, TimeSpan deliveryWindow = default, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
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

        _ = WriteAsync();
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
