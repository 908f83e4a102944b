using Microsoft.Extensions.Options;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Storage;

internal static class StorageExtensions
{
    /// <summary>
    /// The record of rooms and messages (<c>Chat:Storage:Provider</c>), its migrations at start, the ordered
    /// writer and the retention timer. Added before the rooms, so that it stops after them and writes their last changes.
    /// </summary>
    public static IHostApplicationBuilder AddChatStorage(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section)
            .Validate(o => o.Provider is StorageProviders.Sqlite or StorageProviders.Postgres or StorageProviders.Memory,
                $"Chat:Storage:Provider must be {StorageProviders.Allowed}")
            .Validate(o => o.Provider != StorageProviders.Postgres || !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString("Postgres")),
                $"{PostgresDatabase.SettingKey} is required when Chat:Storage:Provider=Postgres")
            .Validate(o => o.WriteTimeout > TimeSpan.Zero, "Chat:Storage:WriteTimeout must be positive")
            .Validate(o => o.CheckpointInterval > TimeSpan.Zero && o.CheckpointInterval <= TimeSpan.FromSeconds(1),
                "Chat:Storage:CheckpointInterval must be more than 0 and at most 00:00:01")
            .Validate(o => o.BehindAfter > TimeSpan.Zero, "Chat:Storage:BehindAfter must be positive")
            .ValidateOnStart();
        services.AddOptions<HistoryRetentionOptions>().BindConfiguration(HistoryRetentionOptions.Section)
            .Validate(o => o.HistoryRetention is null || o.HistoryRetention > TimeSpan.Zero, "Chat:Rooms:HistoryRetention must be positive, or unset to keep every message")
            .Validate(o => o.RetentionSweepInterval > TimeSpan.Zero, "Chat:Rooms:RetentionSweepInterval must be positive")
            .ValidateOnStart();

        services.AddSingleton<IChatRecord>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            var time = sp.GetRequiredService<TimeProvider>();
            var configuration = sp.GetRequiredService<IConfiguration>();
            return options.Provider switch
            {
                StorageProviders.Memory => new MemoryChatRecord(),
                StorageProviders.Postgres => new SqlChatRecord(new PostgresDatabase(configuration.GetConnectionString("Postgres")!), time),
                _ => new SqlChatRecord(new SqliteDatabase(configuration.GetConnectionString("Sqlite"), sp.GetRequiredService<IHostEnvironment>().ContentRootPath), time),
            };
        });
        services.AddHostedService<ChatRecordStartup>();
        services.AddSingleton<ChatRecordWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<ChatRecordWriter>());
        services.AddHostedService<HistoryRetentionService>();
        services.AddSingleton<UserEvents>();
        services.AddSingleton<ChatRecorder>();
        services.AddHostedService(sp => sp.GetRequiredService<ChatRecorder>());
        services.AddSingleton<RoomRecordService>();
        return builder;
    }

    /// <summary>
    /// Puts the record around whichever room store was chosen (memory or Redis), so that rooms are
    /// recorded as they change and rebuilt from the record after a restart (or after Redis lost them). Called after every store is added.
    /// </summary>
    public static IHostApplicationBuilder RecordRooms(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var chosen = services.Last(d => d.ServiceType == typeof(IRoomStore));
        services.Remove(chosen);
        services.AddSingleton<IRoomStore>(sp =>
        {
            var hot = (IRoomStore)(chosen.ImplementationInstance ?? chosen.ImplementationFactory?.Invoke(sp) ?? ActivatorUtilities.CreateInstance(sp, chosen.ImplementationType!));
            var store = new RecordingRoomStore(hot, sp.GetRequiredService<IChatRecord>(), sp.GetRequiredService<ChatRecorder>(), sp.GetRequiredService<IOptions<RoomOptions>>());
            // A hot store that can lose rooms (Redis) rebuilds them from the record when it finds one absent.
            (hot as IRoomStateLoss)?.RebuildFrom(store.RebuildAsync);
            return store;
        });
        return builder;
    }
}
