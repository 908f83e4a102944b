using System.Threading.Channels;
using Microsoft.Extensions.Options;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Storage;

/// <summary>
/// Writes to the record in the order the changes were made, in batches, off the path of the room's
/// events: a slow database slows this loop only. A failed batch is retried (the writes are idempotent)
/// until it is written; <see cref="Health"/> tells readiness when the database is behind or down.
/// </summary>
internal sealed class ChatRecordWriter(IChatRecord record, IOptions<StorageOptions> options, TimeProvider time, ILogger<ChatRecordWriter> logger)
    : BackgroundService
{
    private const int MaxBatch = 256;
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(2);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abandon = new();
    private int _waiting;
    private long _headSince;
    private string? _failure;
    private long _failingSince;

    /// <summary>Queues a write; the task completes once it is in the record (callers that need not wait ignore it).</summary>
    public Task Write(RecordWrite write)
    {
        var pending = new Pending(write, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), time.GetTimestamp());
        Interlocked.Increment(ref _waiting);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref _waiting);
            pending.Done.TrySetException(Stopped());
        }

        return pending.Done.Task;
    }

    /// <summary>
    /// Queues a write and waits until it is in the record, for what the caller acknowledges (a sent message).
    /// Refuses at once while the database is down, and after <c>Chat:Storage:WriteTimeout</c>.
    /// </summary>
    public async Task WriteAndWaitAsync(RecordWrite write, CancellationToken cancellationToken)
    {
        ThrowIfDown();

        var timeout = options.Value.WriteTimeout;
        try
        {
            await Write(write).WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw Unavailable($"did not store it within {timeout.TotalSeconds:0.#} s (Chat:Storage:WriteTimeout)");
        }
    }

    /// <summary>Refuses while the last write failed: what must be stored is not taken in until the database answers again.</summary>
    public void ThrowIfDown()
    {
        if (_failure is { } failure)
        {
            throw Unavailable($"is not answering ({failure})");
        }
    }

    /// <summary>Completes once everything queued so far is written.</summary>
    public Task FlushAsync(CancellationToken cancellationToken) => Write(new SeqReached(string.Empty, 0)).WaitAsync(cancellationToken);

    public RecordHealth Health
    {
        get
        {
            var head = Interlocked.Read(ref _headSince);
            var failingSince = Interlocked.Read(ref _failingSince);
            return new RecordHealth(record.Description, Volatile.Read(ref _waiting), head == 0 ? TimeSpan.Zero : time.GetElapsedTime(head),
                _failure, failingSince == 0 ? TimeSpan.Zero : time.GetElapsedTime(failingSince), options.Value.BehindAfter);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The loop ends when the queue is completed at stop, after what was queued is written (or abandoned).
        var batch = new List<Pending>(MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            Interlocked.Exchange(ref _headSince, batch[0].QueuedAt);
            var written = await WriteWithRetriesAsync(batch);
            Interlocked.Exchange(ref _headSince, 0);
            Interlocked.Add(ref _waiting, -batch.Count);
            foreach (var pending in batch)
            {
                if (written)
                {
                    pending.Done.TrySetResult();
                }
                else
                {
                    pending.Done.TrySetException(Stopped());
                }
            }

            batch.Clear();
        }
    }

    private async Task<bool> WriteWithRetriesAsync(List<Pending> batch)
    {
        var writes = batch.Where(p => p.Write.RoomId.Length > 0).Select(p => p.Write).ToList();
        if (writes.Count == 0)
        {
            return true;
        }

        var delay = FirstRetry;
        while (true)
        {
            try
            {
                await record.WriteAsync(writes, _abandon.Token);
                if (_failure is not null)
                {
                    StorageLog.WriteRecovered(logger, record.Description, time.GetElapsedTime(Interlocked.Read(ref _failingSince)).TotalSeconds);
                    _failure = null;
                    Interlocked.Exchange(ref _failingSince, 0);
                }

                return true;
            }
            catch (Exception ex) when (!_abandon.IsCancellationRequested)
            {
                _failure = ex.Message;
                Interlocked.CompareExchange(ref _failingSince, time.GetTimestamp(), 0);
                StorageLog.WriteFailed(logger, record.Description, writes.Count, ex.Message, (long)delay.TotalMilliseconds);
            }
            catch (Exception)
            {
                StorageLog.Abandoned(logger, record.Description, Volatile.Read(ref _waiting));
                return false;
            }

            try
            {
                await Task.Delay(delay, time, _abandon.Token);
            }
            catch (OperationCanceledException)
            {
                StorageLog.Abandoned(logger, record.Description, Volatile.Read(ref _waiting));
                return false;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastRetry.Ticks));
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Stopped after the rooms and replies (registered before them), so their last writes are queued by now.
        _queue.Writer.TryComplete();
        using var giveUp = cancellationToken.Register(() => _abandon.Cancel());
        if (ExecuteTask is { } loop)
        {
            await loop;
        }

        await base.StopAsync(CancellationToken.None);
    }

    public override void Dispose()
    {
        _abandon.Dispose();
        base.Dispose();
    }

    private ChatRequestException Unavailable(string what) =>
        new(ChatRefusal.Unavailable, $"the database {what}: your message was not sent, try again in a moment ({record.Description})");

    private ChatRequestException Stopped() =>
        new(ChatRefusal.Unavailable, $"the server is stopping and no longer writes to {record.Description}");

    private sealed record Pending(RecordWrite Write, TaskCompletionSource Done, long QueuedAt);
}
