namespace SignalRChat.Tests.Infrastructure;

/// <summary>
/// One chat node on a named backend, so a story runs as a theory over both: <c>memory</c> (the
/// default, everything in the process) or <c>redis</c> (room state, queue and leases in a real
/// redis-server started for the test).
/// </summary>
public sealed class BackendNode : IAsyncDisposable
{
    public const string Memory = "memory";
    public const string Redis = "redis";

    private readonly RedisServer? _redis;

    private BackendNode(ChatServer server, RedisServer? redis)
    {
        Server = server;
        _redis = redis;
    }

    public ChatServer Server { get; }

    public static async Task<BackendNode> StartAsync(string backend, IReadOnlyDictionary<string, string?>? settings = null)
    {
        if (backend == Memory)
        {
            return new BackendNode(await ChatServer.StartAsync(settings), null);
        }

        var redis = await RedisServer.StartAsync();
        var all = new Dictionary<string, string?>(redis.NodeSettings());
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return new BackendNode(await ChatServer.StartAsync(all), redis);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
