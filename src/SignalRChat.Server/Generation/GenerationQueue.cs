using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Generation;

/// <summary>One generation per room at a time, the rest waiting in order with status <c>queued</c>.</summary>
internal sealed class GenerationQueue(IRoomStore store, GenerationRegistry registry, GenerationRunner runner, IOptions<LimitOptions> limits, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, RoomQueue> _rooms = new(StringComparer.Ordinal);

    // Rooms whose generation loop runs; each runs one generation at a time, so this is the node's concurrent generations.
    private int _runningRooms;

    public int Running => Volatile.Read(ref _runningRooms);

    /// <summary>Appends the user's message and queues its reply; returns at once.</summary>
    public async Task<SendMessageResult> SubmitAsync(ChatUser user, string roomId, string text, CancellationToken cancellationToken)
    {
        var queue = _rooms.GetOrAdd(roomId, _ => new RoomQueue());
        await queue.Gate.WaitAsync(cancellationToken);
        try
        {
            var maxWaiting = limits.Value.MaxQueuedGenerationsPerRoom;
            if (queue.Running is not null && queue.Waiting.Count >= maxWaiting)
            {
                throw new ChatRequestException(ChatRefusal.TooManyRequests,
                    $"room '{roomId}' already has {maxWaiting} replies waiting (Chat:Limits:MaxQueuedGenerationsPerRoom); try again when one has finished");
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

            var message = new ChatMessage("m-" + Guid.NewGuid().ToString("N")[..16], 0, user.UserId, user.Name, MessageRoles.User, text,
                MessageStates.Completed, time.GetUtcNow());
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
                _ = Task.Run(() => RunAsync(queue, generation), CancellationToken.None);
            }
            else
            {
                queue.Waiting.AddLast(generation);
                await store.AppendAsync(new StatusEvent(roomId, generation.Id, GenerationStates.Queued), CancellationToken.None);
            }

            return new SendMessageResult(message.MessageId, generation.Id);
        }
        finally
        {
            queue.Gate.Release();
        }
    }

    /// <summary>Stops a waiting or running generation; true when this call stopped it.</summary>
    public async Task<bool> CancelAsync(Generation generation)
    {
        if (_rooms.TryGetValue(generation.RoomId, out var queue))
        {
            await queue.Gate.WaitAsync();
            try
            {
                if (queue.Waiting.Remove(generation))
                {
                    var stopped = generation.TryCancel();
                    generation.Finish();
                    await store.AppendAsync(new StatusEvent(generation.RoomId, generation.Id, GenerationStates.Cancelled, Text: string.Empty));
                    registry.Finished(generation);
                    generation.Dispose();
                    return stopped;
                }
            }
            finally
            {
                queue.Gate.Release();
            }
        }

        return generation.TryCancel();
    }

    public int Waiting(string roomId) => _rooms.TryGetValue(roomId, out var queue) ? queue.Waiting.Count : 0;

    private async Task RunAsync(RoomQueue queue, Generation first)
    {
        for (var next = first; next is not null;)
        {
            await runner.RunAsync(next);
            await queue.Gate.WaitAsync();
            try
            {
                next = queue.Waiting.First?.Value;
                if (next is not null)
                {
                    queue.Waiting.RemoveFirst();
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
