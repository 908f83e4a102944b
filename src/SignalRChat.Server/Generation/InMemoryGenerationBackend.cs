using System.Collections.Concurrent;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Generation;

/// <summary>The single-node backend: every room's queue in this process, each entry removed when its room has no reply running or waiting.</summary>
internal sealed class InMemoryGenerationBackend(IRoomStore store) : IGenerationBackend
{
    private readonly ConcurrentDictionary<string, RoomQueue> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Generation> _waiting = new(StringComparer.Ordinal);

    /// <summary>Rooms with a reply running or waiting (for tests and metrics: bounded by what is in use).</summary>
    public int RoomCount => _rooms.Count;

    public async Task<SubmitOutcome> SubmitAsync(Generation generation, ChatMessage userMessage, int maxWaiting, bool mayStart, CancellationToken cancellationToken)
    {
        var queue = await EnterAsync(generation.RoomId, cancellationToken);
        try
        {
            if (queue.Running is not null && queue.Waiting.Count >= maxWaiting)
            {
                return SubmitOutcome.Full;
            }

            if (queue.Running is null && !mayStart)
            {
                return SubmitOutcome.Busy;
            }

            // A reply to a message already in the room (Regenerate) arrives with that message's seq and appends nothing.
            if (generation.UserMessageSeq == 0)
            {
                var appended = await store.AppendAsync(new MessageEvent(generation.RoomId, userMessage), CancellationToken.None);
                generation.UserMessageSeq = appended.Seq;
            }

            if (queue.Running is null)
            {
                queue.Running = generation;
                return SubmitOutcome.Started;
            }

            queue.Waiting.AddLast(generation);
            _waiting[generation.Id] = generation;
            await store.AppendAsync(new StatusEvent(generation.RoomId, generation.Id, GenerationStates.Queued), CancellationToken.None);
            return SubmitOutcome.Queued;
        }
        finally
        {
            Leave(queue);
        }
    }

    public Task<string?> FindRoomAsync(string generationId) => Task.FromResult(_waiting.TryGetValue(generationId, out var waiting) ? waiting.RoomId : null);

    public async Task<CancelOutcome> CancelAsync(string roomId, string generationId, StopRequest stop, StatusEvent cancelledIfWaiting)
    {
        if (!_rooms.ContainsKey(roomId))
        {
            return CancelOutcome.None;
        }

        var queue = await EnterAsync(roomId, CancellationToken.None);
        try
        {
            if (queue.Running?.Id == generationId)
            {
                return CancelOutcome.RunningHere;
            }

            var waiting = queue.Waiting.FirstOrDefault(g => g.Id == generationId);
            if (waiting is null || !waiting.TryCancel(stop))
            {
                return CancelOutcome.None;
            }

            queue.Waiting.Remove(waiting);
            _waiting.TryRemove(generationId, out _);
            waiting.Finish();
            await store.AppendAsync(cancelledIfWaiting, CancellationToken.None);
            waiting.Dispose();
            return CancelOutcome.Dequeued;
        }
        finally
        {
            Leave(queue);
        }
    }

    // In one process the generation's own lock is where a Stop and the end meet (Generation.Finish).
    public Task<StopRequest?> CloseAsync(Generation generation) => Task.FromResult<StopRequest?>(null);

    public async Task<Generation?> FinishAsync(Generation generation, StatusEvent final, bool mayStartNext)
    {
        var queue = await EnterAsync(generation.RoomId, CancellationToken.None);
        try
        {
            await store.AppendAsync(final, CancellationToken.None);
            var next = queue.Waiting.First?.Value;
            if (next is not null)
            {
                queue.Waiting.RemoveFirst();
                _waiting.TryRemove(next.Id, out _);
            }

            queue.Running = next;
            return next;
        }
        finally
        {
            Leave(queue);
        }
    }

    public async Task<int> CancelWaitingAsync(Func<Generation, StatusEvent> cancelled)
    {
        var count = 0;
        foreach (var roomId in _rooms.Keys)
        {
            var queue = await EnterAsync(roomId, CancellationToken.None);
            try
            {
                foreach (var waiting in queue.Waiting.ToList())
                {
                    queue.Waiting.Remove(waiting);
                    _waiting.TryRemove(waiting.Id, out _);
                    waiting.TryCancel(StopRequest.Shutdown);
                    waiting.Finish();
                    await store.AppendAsync(cancelled(waiting), CancellationToken.None);
                    waiting.Dispose();
                    count++;
                }
            }
            finally
            {
                Leave(queue);
            }
        }

        return count;
    }

    /// <summary>Takes the room's gate, on an entry that is still in the map (a removed one is made afresh).</summary>
    private async Task<RoomQueue> EnterAsync(string roomId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var queue = _rooms.GetOrAdd(roomId, static id => new RoomQueue(id));
            await queue.Gate.WaitAsync(cancellationToken);
            if (!queue.Removed)
            {
                return queue;
            }

            queue.Gate.Release();
        }
    }

    /// <summary>Releases the gate; a room with nothing running or waiting leaves the map.</summary>
    private void Leave(RoomQueue queue)
    {
        if (queue.Running is null && queue.Waiting.Count == 0)
        {
            queue.Removed = true;
            _rooms.TryRemove(new KeyValuePair<string, RoomQueue>(queue.RoomId, queue));
        }

        queue.Gate.Release();
    }

    private sealed class RoomQueue(string roomId)
    {
        public string RoomId { get; } = roomId;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public LinkedList<Generation> Waiting { get; } = new();

        public Generation? Running { get; set; }

        public bool Removed { get; set; }
    }
}
