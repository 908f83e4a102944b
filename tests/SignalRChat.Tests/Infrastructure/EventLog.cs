using SignalRChat.Client;
using SignalRChat.Contracts;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>What one member sees, in order, with waits that end on an event or a timeout, never on a sleep.</summary>
public sealed class EventLog
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly List<RoomEvent> _events = [];
    private readonly List<(Func<RoomEvent, bool> Match, TaskCompletionSource<RoomEvent> Done)> _waiters = [];

    public EventLog(ChatClient client) => client.EventReceived += Add;

    public IReadOnlyList<RoomEvent> Events
    {
        get
        {
            lock (_events)
            {
                return _events.ToList();
            }
        }
    }

    public IReadOnlyList<RoomEvent> ForGeneration(string generationId) =>
        Events.Where(e => e is TokenEvent t && t.GenerationId == generationId
                          || e is StatusEvent s && s.GenerationId == generationId
                          || e is ToolProgressEvent p && p.GenerationId == generationId).ToList();

    public string TextOf(string generationId) => string.Concat(Events.OfType<TokenEvent>().Where(t => t.GenerationId == generationId).Select(t => t.Text));

    public Task<RoomEvent> WaitForAsync(Func<RoomEvent, bool> match, TimeSpan? timeout = null)
    {
        TaskCompletionSource<RoomEvent> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_events)
        {
            var seen = _events.FirstOrDefault(match);
            if (seen is not null)
            {
                return Task.FromResult(seen);
            }

            _waiters.Add((match, done));
        }

        return done.Task.WaitAsync(timeout ?? DefaultTimeout);
    }

    public async Task<StatusEvent> WaitForFinalAsync(string generationId, TimeSpan? timeout = null) =>
        (StatusEvent)await WaitForAsync(e => e is StatusEvent { IsFinal: true } s && s.GenerationId == generationId, timeout);

    /// <summary>Waits until the token events of the generation cover <paramref name="count"/> deltas (a joined event covers <c>firstSeq..seq</c>).</summary>
    public Task WaitForTokensAsync(string generationId, int count, TimeSpan? timeout = null)
    {
        long seen = 0;
        return WaitForAsync(e => e is TokenEvent t && t.GenerationId == generationId && (seen += Covered(t)) >= count, timeout);
    }

    /// <summary>How many deltas of the generation have arrived, counting each joined event as the deltas it covers.</summary>
    public int TokenCount(string? generationId = null) =>
        (int)Events.OfType<TokenEvent>().Where(t => generationId is null || t.GenerationId == generationId).Sum(Covered);

    private static long Covered(TokenEvent token) => token.Seq - token.FirstCoveredSeq + 1;

    private void Add(RoomEvent roomEvent)
    {
        lock (_events)
        {
            _events.Add(roomEvent);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(roomEvent))
                {
                    _waiters[i].Done.TrySetResult(roomEvent);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
