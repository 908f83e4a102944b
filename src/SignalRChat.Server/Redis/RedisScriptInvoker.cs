using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Runs the room and queue scripts: times each (metrics by operation), and is the one place that
/// turns Redis being unreachable into the "temporarily unavailable" refusal the hub and the HTTP
/// endpoints answer alike.
/// </summary>
internal sealed class RedisScriptInvoker(IConnectionMultiplexer redis, ChatMetrics metrics)
{
    /// <summary>Runs a script; a Redis that does not answer throws as it is (for callers that hold writes back).</summary>
    public Task<RedisResult> EvaluateAsync(string operation, LuaScript script, IWriteArgs args) =>
        metrics.TimeRedisAsync(operation, redis.GetDatabase().ScriptEvaluateAsync(script, args));

    /// <summary>Runs a script; a Redis that does not answer is a clear, retryable refusal.</summary>
    public async Task<RedisResult> RunAsync(string operation, LuaScript script, IWriteArgs args)
    {
        try
        {
            return await EvaluateAsync(operation, script, args);
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            throw Unavailable();
        }
    }

    // A TaskCanceledException here is the multiplexer giving a command up (no caller token is passed to Redis calls).
    // "Reading is not allowed after reader was completed" is a connection torn down under a command.
    public static bool IsUnreachable(Exception ex) => ex is RedisConnectionException or RedisTimeoutException or TimeoutException or TaskCanceledException
        || ex is InvalidOperationException { Message: var torn } && torn.Contains("reader was completed", StringComparison.Ordinal)
        || ex is RedisServerException { Message: var message } && (message.StartsWith("LOADING", StringComparison.Ordinal) || message.StartsWith("BUSY", StringComparison.Ordinal)
            || message.StartsWith("TRYAGAIN", StringComparison.Ordinal) || message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal));

    public static ChatRequestException Unavailable() =>
        new(ChatRefusal.Unavailable, "the chat store is temporarily unavailable and the server is retrying; try again in a moment");
}
