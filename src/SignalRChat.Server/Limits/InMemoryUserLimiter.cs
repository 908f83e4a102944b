using System.Collections.Concurrent;

namespace SignalRChat.Server.Limits;

/// <summary>The per-user limits of this node alone.</summary>
internal sealed class InMemoryUserLimiter(TimeProvider time) : IUserLimiter
{
    // Past this many users, buckets that have refilled completely are dropped: they carry no information.
    private const int SweepAbove = 10_000;

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HashSet<string>> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DayUsage> _usage = new(StringComparer.Ordinal);

    public ValueTask<TimeSpan?> TryTakeMessageAsync(string userId, int perMinute, CancellationToken cancellationToken = default) =>
        TryTakeAsync(userId, "messages", perMinute, TimeSpan.FromMinutes(1), cancellationToken);

    public ValueTask<TimeSpan?> TryTakeAsync(string userId, string allowance, int capacity, TimeSpan period, CancellationToken cancellationToken = default)
    {
        if (_buckets.Count > SweepAbove)
        {
            Sweep();
        }

        var bucket = _buckets.GetOrAdd(allowance + "|" + userId, _ => new Bucket(capacity, time.GetTimestamp()));
        lock (bucket)
        {
            var perSecond = capacity / period.TotalSeconds;
            var now = time.GetTimestamp();
            bucket.Capacity = capacity;
            bucket.PerSecond = perSecond;
            bucket.Tokens = Math.Min(capacity, bucket.Tokens + time.GetElapsedTime(bucket.Stamp, now).TotalSeconds * perSecond);
            bucket.Stamp = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return ValueTask.FromResult<TimeSpan?>(null);
            }

            return ValueTask.FromResult<TimeSpan?>(TimeSpan.FromSeconds((1 - bucket.Tokens) / perSecond));
        }
    }

    public ValueTask<bool> TryOpenConnectionAsync(string userId, string connectionId, int max, CancellationToken cancellationToken = default)
    {
        var open = _connections.GetOrAdd(userId, _ => new HashSet<string>(StringComparer.Ordinal));
        lock (open)
        {
            if (open.Count >= max && !open.Contains(connectionId))
            {
                return ValueTask.FromResult(false);
            }

            open.Add(connectionId);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask CloseConnectionAsync(string userId, string connectionId, CancellationToken cancellationToken = default)
    {
        if (_connections.TryGetValue(userId, out var open))
        {
            lock (open)
            {
                open.Remove(connectionId);
                if (open.Count == 0)
                {
                    _connections.TryRemove(new KeyValuePair<string, HashSet<string>>(userId, open));
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<long> GetTokensUsedAsync(string userId, DateOnly day, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_usage.TryGetValue(userId, out var usage) && usage.Day == day ? usage.Tokens : 0);

    public ValueTask AddTokensUsedAsync(string userId, DateOnly day, long tokens, CancellationToken cancellationToken = default)
    {
        _usage.AddOrUpdate(userId, _ => new DayUsage(day, tokens), (_, old) => old.Day == day ? old with { Tokens = old.Tokens + tokens } : new DayUsage(day, tokens));
        return ValueTask.CompletedTask;
    }

    private void Sweep()
    {
        foreach (var (userId, bucket) in _buckets)
        {
            lock (bucket)
            {
                if (bucket.Tokens + time.GetElapsedTime(bucket.Stamp).TotalSeconds * bucket.PerSecond >= bucket.Capacity)
                {
                    _buckets.TryRemove(new KeyValuePair<string, Bucket>(userId, bucket));
                }
            }
        }

        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        foreach (var (userId, usage) in _usage)
        {
            if (usage.Day != today)
            {
                _usage.TryRemove(new KeyValuePair<string, DayUsage>(userId, usage));
            }
        }
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        public double Capacity { get; set; } = tokens;

        public double PerSecond { get; set; }

        public double Tokens { get; set; } = tokens;

        public long Stamp { get; set; } = stamp;
    }

    private sealed record DayUsage(DateOnly Day, long Tokens);
}
