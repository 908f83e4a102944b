using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Generation;

/// <summary>The single-node queue: every room's generations in this process.</summary>
internal sealed class GenerationQueue(
    IRoomStore store, GenerationRegistry registry, GenerationRunner runner, IOptions<LimitOptions> limits, ChatMetrics metrics, TimeProvider time,
    ILogger<GenerationQueue> runnerLogger)
    : IGenerationQueue
{
    private readonly ConcurrentDictionary<string, RoomQueue> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _loops = new();
    private volatile bool _draining;

    // Rooms whose generation loop runs; each runs one generation at a time, so this is the node's concurrent generations.
    private int _runningRooms;

    public int Running => Volatile.Read(ref _runningRooms);

    public async Task<SendMessageResult> SubmitAsync(ChatUser user, string roomId, string text, CancellationToken cancellationToken)
    {
        if (_draining)
        {
            throw ShuttingDown();
        }

        var queue = _rooms.GetOrAdd(roomId, _ => new RoomQueue());
        await queue.Gate.WaitAsync(cancellationToken);
        try
        {
            var maxWaiting = limits.Value.MaxQueuedGenerationsPerRoom;
            if (queue.Running is not null && queue.Waiting.Count >= maxWaiting)
            {
                throw TooManyWaiting(roomId, maxWaiting);
            }

            var starts = queue.Running is null;
            if (starts)
            {
                var maxRunning = limits.Value.MaxConcurrentGenerationsPerNode;
                if (Interlocked.Increment(ref _runningRooms) > maxRunning)
                {
                    Interlocked.Decrement(ref _runningRooms);
                    throw new ChatRequestException(ChatRefusal.Unavailable,
                        $"busy: this server already generates {maxRunning} replies at once (Chat:Limits:MaxConcurrentGenerationsPerNode), try again in a moment");
                }
            }

            var message = UserMessage(user, text, time);
            RoomEvent appended;
            try
            {
                appended = await store.AppendAsync(new MessageEvent(roomId, message), CancellationToken.None);
            }
            catch when (starts)
            {
                // The slot taken above is given back, or a failing store would use the node's slots up one by one.
                Interlocked.Decrement(ref _runningRooms);
                throw;
            }

            var generation = new Generation(roomId, user, message.MessageId, appended.Seq);
            registry.Add(generation);
            if (queue.Running is null)
            {
                queue.Running = generation;
                Track(Task.Run(() => RunAsync(queue, generation), CancellationToken.None));
            }
            else
            {
                queue.Waiting.AddLast(generation);
                metrics.GenerationQueued();
                await store.AppendAsync(new StatusEvent(roomId, generation.Id, GenerationStates.Queued), CancellationToken.None);
            }

            return new SendMessageResult(message.MessageId, generation.Id);
        }
        finally
        {
            queue.Gate.Release();
        }
    }

    public Task<string?> FindRoomAsync(string generationId) => Task.FromResult(registry.FindRoom(generationId));

    public async Task<bool> CancelAsync(string generationId)
    {
        var generation = registry.FindLive(generationId);
        if (generation is null)
        {
            return false;
        }

        if (_rooms.TryGetValue(generation.RoomId, out var queue))
        {
            await queue.Gate.WaitAsync();
            try
            {
                if (queue.Waiting.Remove(generation))
                {
                    metrics.GenerationDequeued();
                    return await CancelWaitingAsync(generation, null);
                }
            }
            finally
            {
                queue.Gate.Release();
            }
        }

        return generation.TryCancel();
    }

    public async Task DrainAsync(TimeSpan drainTime, CancellationToken cancellationToken)
    {
        _draining = true;
        foreach (var queue in _rooms.Values)
        {
            await queue.Gate.WaitAsync(cancellationToken);
            try
            {
                foreach (var waiting in queue.Waiting.ToList())
                {
                    queue.Waiting.Remove(waiting);
                    metrics.GenerationDequeued();
                    await CancelWaitingAsync(waiting, GenerationErrors.ShutDown);
                }
            }
            finally
            {
                queue.Gate.Release();
            }
        }

        await WaitOrStopAsync(_loops.Keys, registry, drainTime, cancellationToken);
    }

    /// <summary>Waits for running generations; those still running after <paramref name="drainTime"/> are stopped with a reason.</summary>
    internal static async Task WaitOrStopAsync(IEnumerable<Task> running, GenerationRegistry registry, TimeSpan drainTime, CancellationToken cancellationToken)
    {
        var all = Task.WhenAll(running.ToList());
        if (await Task.WhenAny(all, Task.Delay(drainTime, cancellationToken)) != all)
        {
            foreach (var generation in registry.Live)
            {
                generation.TryCancel(GenerationErrors.ShutDown);
            }

            await all.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    internal static ChatMessage UserMessage(ChatUser user, string text, TimeProvider time) =>
        new("m-" + Guid.NewGuid().ToString("N")[..16], 0, user.UserId, user.Name, MessageRoles.User, text, MessageStates.Completed, time.GetUtcNow());

    internal static ChatRequestException TooManyWaiting(string roomId, int maxWaiting) =>
        new(ChatRefusal.TooManyRequests, $"room '{roomId}' already has {maxWaiting} replies waiting (Chat:Limits:MaxQueuedGenerationsPerRoom); try again when one has finished");

    internal static ChatRequestException ShuttingDown() =>
        new(ChatRefusal.Unavailable, "this server is shutting down; send the message again in a moment");

    private async Task<bool> CancelWaitingAsync(Generation generation, string? reason)
    {
        var stopped = generation.TryCancel(reason);
        generation.Finish();
        await store.AppendAsync(new StatusEvent(generation.RoomId, generation.Id, GenerationStates.Cancelled, Text: string.Empty, Error: reason));
        metrics.Cancelled(generation.CancelRequestedAt);
        registry.Finished(generation);
        generation.Dispose();
        return stopped;
    }

    private void Track(Task loop)
    {
        _loops[loop] = 0;
        loop.ContinueWith(t => _loops.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task RunAsync(RoomQueue queue, Generation first)
    {
        for (var next = first; next is not null;)
        {
            var final = await runner.RunAsync(next);
            await queue.Gate.WaitAsync();
            try
            {
                try
                {
                    await store.AppendAsync(final, CancellationToken.None);
                }
                catch (Exception ex)
                {
                    GenerationLog.Failed(runnerLogger, next.RoomId, next.Id, "the final status could not be written", ex);
                }

                if (final.State == GenerationStates.Cancelled)
                {
                    metrics.Cancelled(next.CancelRequestedAt);
                }

                registry.Finished(next);
                next.Dispose();
                next = queue.Waiting.First?.Value;
                if (next is not null)
                {
                    queue.Waiting.RemoveFirst();
                    metrics.GenerationDequeued();
                }

                queue.Running = next;
                if (next is null)
                {
                    Interlocked.Decrement(ref _runningRooms);
                }
            }
            finally
            {
                queue.Gate.Release();
            }
        }
    }

    private sealed class RoomQueue
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public LinkedList<Generation> Waiting { get; } = new();

        public Generation? Running { get; set; }
    }
}

/// <summary>Readable reasons a generation ended other than by its model.</summary>
internal static class GenerationErrors
{
    public const string ShutDown = "the server shut down before the reply finished";
    public const string NodeStopped = "the server handling this reply stopped";
}
