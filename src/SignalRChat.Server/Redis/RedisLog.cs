namespace SignalRChat.Server.Redis;

internal static partial class RedisLog
{
    [LoggerMessage(1, LogLevel.Error, "A message on the channel of room {RoomId} could not be read")]
    public static partial void BadMessage(ILogger logger, string roomId, Exception exception);

    [LoggerMessage(2, LogLevel.Warning, "Generation {GenerationId} in room {RoomId} was stopped: its node stopped renewing the lease")]
    public static partial void Reaped(ILogger logger, string roomId, string generationId);

    [LoggerMessage(3, LogLevel.Error, "Sweeping expired generation leases failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "Generation {GenerationId} in room {RoomId} lost its lease and is being stopped here")]
    public static partial void LeaseLost(ILogger logger, string roomId, string generationId);

    [LoggerMessage(5, LogLevel.Information, "Rooms, history, the event log and the SignalR backplane are in Redis ({Endpoints})")]
    public static partial void Using(ILogger logger, string endpoints);
}
