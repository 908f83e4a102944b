namespace SignalRChat.Server.Limits;

/// <summary>
/// The per-user limits: the message rate and other allowances (token buckets: rooms created,
/// membership changes), open connections and the daily model
/// token budget. In memory they hold per node; an implementation over a shared store (Redis) makes
/// them hold across nodes.
/// </summary>
public interface IUserLimiter
{
    /// <summary>Takes one message from the user's bucket of <paramref name="perMinute"/>; null when allowed, else the wait until the next one.</summary>
    ValueTask<TimeSpan?> TryTakeMessageAsync(string userId, int perMinute, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes one from the user's bucket <paramref name="allowance"/> of <paramref name="capacity"/> a
    /// <paramref name="period"/> (refilled evenly); null when allowed, else the wait until the next one.
    /// </summary>
    ValueTask<TimeSpan?> TryTakeAsync(string userId, string allowance, int capacity, TimeSpan period, CancellationToken cancellationToken = default);

    /// <summary>Counts a new connection of the user; false when the user already has <paramref name="max"/>.</summary>
    ValueTask<bool> TryOpenConnectionAsync(string userId, string connectionId, int max, CancellationToken cancellationToken = default);

    /// <summary>Forgets a connection; harmless for one that was never counted.</summary>
    ValueTask CloseConnectionAsync(string userId, string connectionId, CancellationToken cancellationToken = default);

    /// <summary>Model output tokens spent on replies the user asked for on <paramref name="day"/> (UTC).</summary>
    ValueTask<long> GetTokensUsedAsync(string userId, DateOnly day, CancellationToken cancellationToken = default);

    ValueTask AddTokensUsedAsync(string userId, DateOnly day, long tokens, CancellationToken cancellationToken = default);
}
