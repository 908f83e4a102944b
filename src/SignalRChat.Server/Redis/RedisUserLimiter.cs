using System.Globalization;
using SignalRChat.Server.Limits;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// The per-user limits held in Redis, so they hold across every node: the buckets (messages, rooms created, membership changes), open
/// connections and the daily token budget, each changed atomically by a small script.
/// </summary>
internal sealed class RedisUserLimiter(IConnectionMultiplexer redis, TimeProvider time) : IUserLimiter
{
    // Connections a dead node could not forget stop counting after a day.
    private static readonly TimeSpan ConnectionTtl = TimeSpan.FromDays(1);

    private const string TakeFromBucket = """
        local capacity, now, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) or 60000
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
        local tokens, stamp = tonumber(state[1]) or capacity, tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + (now - stamp) * capacity / period)
        local wait = -1
        if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * period / capacity) end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', now)
        redis.call('PEXPIRE', KEYS[1], period * 2)
        return wait
        """;

    private const string OpenConnection = """
        local now, max, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
        redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
        """;

    public async ValueTask<TimeSpan?> TryTakeMessageAsync(string userId, int perMinute, CancellationToken cancellationToken = default)
    {
        var wait = (long)await Db.ScriptEvaluateAsync(TakeFromBucket, [Key(userId, "bucket")], [perMinute, Now]);
        return wait < 0 ? null : TimeSpan.FromMilliseconds(wait);
    }

    public async ValueTask<TimeSpan?> TryTakeAsync(string userId, string allowance, int capacity, TimeSpan period, CancellationToken cancellationToken = default)
    {
        var wait = (long)await Db.ScriptEvaluateAsync(TakeFromBucket, [Key(userId, allowance)], [capacity, Now, (long)period.TotalMilliseconds]);
        return wait < 0 ? null : TimeSpan.FromMilliseconds(wait);
    }

    public async ValueTask<bool> TryOpenConnectionAsync(string userId, string connectionId, int max, CancellationToken cancellationToken = default) =>
        (long)await Db.ScriptEvaluateAsync(OpenConnection, [Key(userId, "connections")], [connectionId, Now, max, (long)ConnectionTtl.TotalMilliseconds]) == 1;

    public async ValueTask CloseConnectionAsync(string userId, string connectionId, CancellationToken cancellationToken = default) =>
        await Db.SortedSetRemoveAsync(Key(userId, "connections"), connectionId);

    public async ValueTask<long> GetTokensUsedAsync(string userId, DateOnly day, CancellationToken cancellationToken = default) =>
        (long?)await Db.StringGetAsync(Key(userId, TokensOf(day))) ?? 0;

    public async ValueTask AddTokensUsedAsync(string userId, DateOnly day, long tokens, CancellationToken cancellationToken = default)
    {
        var key = Key(userId, TokensOf(day));
        await Db.StringIncrementAsync(key, tokens);
        await Db.KeyExpireAsync(key, TimeSpan.FromDays(2));
    }

    private IDatabase Db => redis.GetDatabase();

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static string TokensOf(DateOnly day) => "tokens:" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static RedisKey Key(string userId, string what) => $"chat:{{user:{userId}}}:{what}";
}
