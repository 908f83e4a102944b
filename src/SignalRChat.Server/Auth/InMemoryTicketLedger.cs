using System.Collections.Concurrent;

namespace SignalRChat.Server.Auth;

/// <summary>
/// Used tickets of this node, each kept until it expires. Expired marks are dropped as new ones come in, so the
/// ledger holds at most the tickets used within one ticket lifetime, and never more than <see cref="MaxMarks"/>:
/// past that a ticket is refused rather than remembered badly.
/// </summary>
internal sealed class InMemoryTicketLedger(TimeProvider time) : ITicketLedger
{
    public const int MaxMarks = 100_000;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _used = new(StringComparer.Ordinal);
    private readonly Lock _sweep = new();
    private DateTimeOffset _nextSweep;

    /// <summary>Marks held now, for tests of the bound.</summary>
    public int Count => _used.Count;

    public Task<bool> TryUseAsync(string ticketId, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Sweep(now);
        if (_used.Count >= MaxMarks)
        {
            return Task.FromResult(false);
        }

        return Task.FromResult(_used.TryAdd(ticketId, expires));
    }

    private void Sweep(DateTimeOffset now)
    {
        if (now < _nextSweep && _used.Count < MaxMarks)
        {
            return;
        }

        lock (_sweep)
        {
            _nextSweep = now + TimeSpan.FromSeconds(1);
            foreach (var (id, expires) in _used)
            {
                if (expires < now)
                {
                    _used.TryRemove(new KeyValuePair<string, DateTimeOffset>(id, expires));
                }
            }
        }
    }
}
