using Microsoft.AspNetCore.SignalR;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Generation;
using SignalRChat.Server.Hubs;
using SignalRChat.Server.Limits;
using SignalRChat.Server.Rooms;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

internal static class RedisExtensions
{
    public const string ConnectionStringName = "Redis";

    public static bool IsRedisConfigured(this IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration.GetConnectionString(ConnectionStringName));

    /// <summary>
    /// With <c>ConnectionStrings:Redis</c> set: one shared connection for the SignalR backplane,
    /// rooms, the event log, the generation queue and cross-node Stop.
    /// </summary>
    public static IHostApplicationBuilder AddChatRedis(this IHostApplicationBuilder builder)
    {
        if (!builder.Configuration.IsRedisConfigured())
        {
            return builder;
        }

        var configuration = ConfigurationOptions.Parse(builder.Configuration.GetConnectionString(ConnectionStringName)!);

        // Chosen on purpose (see README, "Redis"): start even while Redis is down and keep reconnecting
        // in the background; a command Redis does not answer within 2 s fails, so a hung Redis is
        // noticed quickly: a reply in progress goes on locally (RedisRoomStore's backlog) and other
        // calls get a clear "temporarily unavailable" instead of hanging. Keep-alive pings every 5 s
        // find dead connections. Values given in the connection string win.
        var explicitly = builder.Configuration.GetConnectionString(ConnectionStringName)!;
        configuration.AbortOnConnectFail = false;
        configuration.ClientName ??= "signalrchat";
        if (!explicitly.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
        {
            configuration.ConnectTimeout = 3000;
        }

        if (!explicitly.Contains("syncTimeout", StringComparison.OrdinalIgnoreCase))
        {
            configuration.SyncTimeout = 2000;
        }

        if (!explicitly.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
        {
            configuration.AsyncTimeout = 2000;
        }

        configuration.KeepAlive = 5;

        // A command issued while disconnected fails at once rather than waiting to be sent later: a
        // write that was given up on must never land afterwards at a seq of its own.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);

        var services = builder.Services;
        services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var multiplexer = ConnectionMultiplexer.Connect(configuration);
            RedisLog.Using(sp.GetRequiredService<ILogger<RedisRoomStore>>(), string.Join(",", configuration.EndPoints));
            return multiplexer;
        });
        services.AddOptions<RedisGenerationOptions>().BindConfiguration(RedisGenerationOptions.Section)
            .Validate(o => o.Lease > o.SweepInterval && o.SweepInterval > TimeSpan.Zero, "Chat:Redis:Lease must be longer than Chat:Redis:SweepInterval, both positive")
            .Validate(o => o.IdleRoomTtl >= TimeSpan.Zero, "Chat:Redis:IdleRoomTtl must be 0 (kept) or more")
            .ValidateOnStart();

        services.AddSingleton<RedisNode>();
        services.AddSingleton<RedisScriptInvoker>();
        services.AddSingleton<RedisRoomStore>();
        services.AddSingleton<IRoomStore>(sp => sp.GetRequiredService<RedisRoomStore>());
        services.AddSingleton<IRoomEventBus>(sp => sp.GetRequiredService<RedisRoomStore>());
        services.AddSingleton<IUserLimiter, RedisUserLimiter>();
        services.AddSingleton<RedisGenerationBackend>();
        services.AddSingleton<IGenerationBackend>(sp => sp.GetRequiredService<RedisGenerationBackend>());
        services.AddHostedService<RedisLeaseSweeper>();
        services.AddSingleton<Approvals.IToolApprovals, RedisToolApprovals>();
        services.AddSingleton<Auth.ITicketLedger, RedisTicketLedger>();

        // Messages to a user reach every node (UserBackplane); room events go on the rooms' own channels.
        services.AddSingleton<UserBackplane<ChatHub>>(sp =>
            new UserBackplane<ChatHub>(sp.GetRequiredService<LocalHubLifetimeManager<ChatHub>>(), sp.GetRequiredService<IConnectionMultiplexer>(),
                sp.GetRequiredService<ILogger<UserBackplane<ChatHub>>>()));
        services.AddSingleton<HubLifetimeManager<ChatHub>>(sp =>
            new TrackingHubLifetimeManager<ChatHub>(sp.GetRequiredService<UserBackplane<ChatHub>>(), sp.GetRequiredService<ConnectionRegistry>()));
        return builder;
    }
}
