namespace SignalRChat.Server.Storage;

internal static partial class StorageLog
{
    [LoggerMessage(1, LogLevel.Information, "Rooms and messages are recorded in {Record}")]
    public static partial void Using(ILogger logger, string record);

    [LoggerMessage(2, LogLevel.Information, "{Record}: schema migrated to version {Version}")]
    public static partial void Migrated(ILogger logger, string record, int version);

    [LoggerMessage(3, LogLevel.Warning, "{Record}: {Count} replies that were running when the server stopped are now failed")]
    public static partial void FailedInterrupted(ILogger logger, string record, int count);

    [LoggerMessage(4, LogLevel.Warning, "{Record}: writing {Count} changes failed ({Reason}); retrying in {DelayMs} ms")]
    public static partial void WriteFailed(ILogger logger, string record, int count, string reason, long delayMs);

    [LoggerMessage(5, LogLevel.Information, "{Record}: writing again after {Seconds:0.0} s")]
    public static partial void WriteRecovered(ILogger logger, string record, double seconds);

    [LoggerMessage(6, LogLevel.Error, "{Record}: {Count} changes were not written before the server stopped")]
    public static partial void Abandoned(ILogger logger, string record, int count);

    [LoggerMessage(7, LogLevel.Information, "{Record}: removed {Count} messages older than {Retention} (Chat:Rooms:HistoryRetention)")]
    public static partial void Removed(ILogger logger, string record, int count, TimeSpan retention);

    [LoggerMessage(8, LogLevel.Warning, "{Record}: removing old messages failed")]
    public static partial void RemoveFailed(ILogger logger, string record, Exception exception);

    [LoggerMessage(9, LogLevel.Warning, "Room {RoomId}: telling its members of new activity failed")]
    public static partial void UserEventFailed(ILogger logger, string roomId, Exception exception);
}
