using SignalRChat.Server.Auth;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>Used tickets shared by every node: one key each, set only if absent, expiring with the ticket.</summary>
internal sealed class RedisTicketLedger(IConnectionMultiplexer redis, TimeProvider time) : ITicketLedger
{
    public async Task<bool> TryUseAsync(string ticketId, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        // At least a second: a ticket at the very end of its life is still marked while it can be presented.
        var ttl = expires - time.GetUtcNow();
        return await redis.GetDatabase().StringSetAsync(RedisKeys.UsedTicket(ticketId), "1", ttl < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : ttl,
            When.NotExists);
    }
}
