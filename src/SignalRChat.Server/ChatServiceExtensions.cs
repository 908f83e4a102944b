using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Generation;
using SignalRChat.Server.Hubs;
using SignalRChat.Server.Interop;
using SignalRChat.Server.Limits;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Storage;
using SignalRChat.Server.Streaming;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server;

internal static class ChatServiceExtensions
{
    /// <summary>Rooms, their event streams, generations and the hub.</summary>
    public static IHostApplicationBuilder AddChatRooms(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<RoomOptions>().BindConfiguration(RoomOptions.Section)
            .Validate(o => o.MaxHistoryMessages >= 1 && o.EventLogSize >= 1 && o.SnapshotMessages >= 1, "Chat:Rooms values must be positive")
            .Validate(o => o.IdleTime > TimeSpan.Zero, "Chat:Rooms:IdleTime must be more than zero")
            .Validate(o => o.MaxReplayEvents >= 1, "Chat:Rooms:MaxReplayEvents must be at least 1")
            .ValidateOnStart();
        services.AddOptions<LimitOptions>().BindConfiguration(LimitOptions.Section)
            .Validate(o => o.MaxMessageChars >= 1, "Chat:Limits:MaxMessageChars must be at least 1")
            .Validate(o => o.MaxQueuedGenerationsPerRoom >= 0, "Chat:Limits:MaxQueuedGenerationsPerRoom must be 0 or more")
            .Validate(o => o.MaxRoomsPerConnection >= 1, "Chat:Limits:MaxRoomsPerConnection must be at least 1")
            .Validate(o => o.MessagesPerMinute >= 1, "Chat:Limits:MessagesPerMinute must be at least 1")
            .Validate(o => o.MaxConcurrentGenerationsPerNode >= 1, "Chat:Limits:MaxConcurrentGenerationsPerNode must be at least 1")
            .Validate(o => o.MaxConnectionsPerUser >= 1, "Chat:Limits:MaxConnectionsPerUser must be at least 1")
            .Validate(o => o.DailyTokensPerUser >= 0, "Chat:Limits:DailyTokensPerUser must be 0 (no budget) or more")
            .Validate(o => o.RoomsCreatedPerHour >= 1, "Chat:Limits:RoomsCreatedPerHour must be at least 1")
            .Validate(o => o.MembershipChangesPerMinute >= 1, "Chat:Limits:MembershipChangesPerMinute must be at least 1")
            .Validate(o => o.GuestSignInsPerMinute is null or >= 0, "Chat:Limits:GuestSignInsPerMinute must be 0 (no limit) or more")
            .ValidateOnStart();
        services.AddSingleton<IUserLimiter, InMemoryUserLimiter>();
        services.AddOptions<BudgetOptions>().BindConfiguration(LimitOptions.Section)
            .Validate(o => o.DailyTokensPerAddress is null or >= 0, "Chat:Limits:DailyTokensPerAddress must be 0 (no budget) or more")
            .ValidateOnStart();
        services.AddSingleton<ReplyBudget>();
        services.AddOptions<InvitationOptions>().BindConfiguration(LimitOptions.Section)
            .Validate(o => o.InvitationsPerMinute >= 1, "Chat:Limits:InvitationsPerMinute must be at least 1")
            .Validate(o => o.MaxInvitationsPerRoom >= 1, "Chat:Limits:MaxInvitationsPerRoom must be at least 1")
            .Validate(o => o.MaxPendingInvitationsPerUser >= 1, "Chat:Limits:MaxPendingInvitationsPerUser must be at least 1")
            .ValidateOnStart();
        services.AddSingleton<Approvals.IToolApprovals, Approvals.InMemoryToolApprovals>();
        services.AddOptions<FanoutOptions>().BindConfiguration(FanoutOptions.Section)
            .Validate(o => o.DeliveryWindow >= TimeSpan.Zero && o.DeliveryWindow <= TimeSpan.FromSeconds(1), "Chat:Fanout:DeliveryWindow must be between 0 and 00:00:01")
            .Validate(o => o.JoinGap >= TimeSpan.Zero && o.JoinGap <= TimeSpan.FromMilliseconds(100), "Chat:Fanout:JoinGap must be between 0 and 00:00:00.1")
            .ValidateOnStart();
        services.AddOptions<GenerationOptions>().BindConfiguration(GenerationOptions.Section)
            .Validate(o => o.DrainTime >= TimeSpan.Zero, "Chat:Generation:DrainTime must not be negative")
            .ValidateOnStart();
        services.AddOptions<StreamOptions>().BindConfiguration(StreamOptions.Section)
            .Validate(o => o.KeepAlive > TimeSpan.Zero && o.RetryMs >= 0 && o.MaxQueuedEvents >= 1, "Chat:Streams values must be positive")
            .Validate(o => o.MaxPerAddress >= 1, "Chat:Streams:MaxPerAddress must be at least 1")
            .ValidateOnStart();

        services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(KestrelLimits.Apply);

        services.AddSingleton<InMemoryRoomStore>();
        services.AddSingleton<IRoomStore>(sp => sp.GetRequiredService<InMemoryRoomStore>());
        services.AddSingleton<IRoomEventBus>(sp => sp.GetRequiredService<InMemoryRoomStore>());

        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<RoomFanout>();
        services.AddHostedService<RoomSweeper>();
        services.AddSingleton<StreamAddressLimiter>();
        services.AddSingleton<GenerationRegistry>();
        services.AddSingleton<GenerationRunner>();
        services.AddSingleton<InMemoryGenerationBackend>();
        services.AddSingleton<IGenerationBackend>(sp => sp.GetRequiredService<InMemoryGenerationBackend>());
        services.AddSingleton<GenerationHost>();
        services.AddHostedService<GenerationDrain>();
        services.AddSingleton<RoomService>();
        services.AddSingleton<CollaborationService>();

        services.AddSignalR(hub =>
            {
                // Frames up to 512 KiB are read and judged, so an over-long message gets a clear error instead of a dropped connection.
                hub.MaximumReceiveMessageSize = 512 * 1024;
                hub.AddFilter<ChatRequestHubFilter>();
            })
            .AddJsonProtocol(json =>
            {
                json.PayloadSerializerOptions.Encoder = ChatJson.Encoder;
                ContractJson.Apply(json.PayloadSerializerOptions);
            })
            .AddMessagePackProtocol(options => options.SerializerOptions = ContractMessagePack.Options);
        foreach (var stock in services.Where(d => d.ServiceType == typeof(IHubProtocol) && d.ImplementationType == typeof(JsonHubProtocol)).ToList())
        {
            services.Remove(stock);
        }

        services.AddSingleton<IHubProtocol>(sp => new SkippingJsonHubProtocol(ActivatorUtilities.CreateInstance<JsonHubProtocol>(sp)));
        services.AddSingleton<LocalHubLifetimeManager<ChatHub>>();
        services.AddSingleton<HubLifetimeManager<ChatHub>>(sp =>
            new TrackingHubLifetimeManager<ChatHub>(sp.GetRequiredService<LocalHubLifetimeManager<ChatHub>>(), sp.GetRequiredService<ConnectionRegistry>()));
        return builder;
    }

    public static WebApplication MapChat(this WebApplication app)
    {
        // Created now, so that it watches for closed connections from the first one on.
        app.Services.GetRequiredService<RoomService>();
        // A node that is shutting down takes no new connections, so clients go to another node at once.
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        app.Use((context, next) =>
        {
            if (lifetime.ApplicationStopping.IsCancellationRequested && context.Request.Path.StartsWithSegments(ChatProtocol.HubPath))
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.RetryAfter = "1";
                context.Response.Headers.Connection = "close";
                return Task.CompletedTask;
            }

            return next(context);
        });
        // MapHub's own steps, with one connection middleware before the hub (see OneFlushAtATime).
        var metrics = app.Services.GetRequiredService<ChatMetrics>();
        var hub = app.MapConnections(ChatProtocol.HubPath, new HttpConnectionDispatcherOptions { AllowStatefulReconnects = true },
            connection => connection.UseOneFlushAtATime(metrics).UseHub<ChatHub>());
        hub.Add(endpoint =>
        {
            foreach (var attribute in typeof(ChatHub).GetCustomAttributes(inherit: true))
            {
                endpoint.Metadata.Add(attribute);
            }

            endpoint.Metadata.Add(new HubMetadata(typeof(ChatHub)));
        });
        hub.RequireAuthorization();
        app.MapRoomStreams();
        app.MapRoomRecord();
        app.MapInterop();
        return app;
    }
}
