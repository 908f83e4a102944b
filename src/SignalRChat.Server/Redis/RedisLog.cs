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

    [LoggerMessage(6, LogLevel.Warning, "Redis did not answer ({Reason}): room {RoomId} goes on here, holding its writes back until Redis is back")]
    public static partial void HoldingBack(ILogger logger, string roomId, string reason);

    [LoggerMessage(7, LogLevel.Error, "Writing the held-back event {Seq} of room {RoomId} to Redis failed")]
    public static partial void FlushFailed(ILogger logger, string roomId, long seq, Exception exception);

    [LoggerMessage(8, LogLevel.Warning, "Room {RoomId}: the held-back event {Seq} was written as {Written}, as another node wrote meanwhile")]
    public static partial void Renumbered(ILogger logger, string roomId, long seq, long written);

    [LoggerMessage(9, LogLevel.Debug, "Room {RoomId}: event {Seq} waits for Redis: {Reason}")]
    public static partial void FlushWaiting(ILogger logger, string roomId, long seq, string reason);

    [LoggerMessage(10, LogLevel.Warning, "Room {RoomId}: subscribing again after Redis came back failed ({Reason}); retrying")]
    public static partial void RewatchWaiting(ILogger logger, string roomId, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Room {RoomId}: reading events missed on the channel failed ({Reason}); members resume on the gap")]
    public static partial void CatchUpFailed(ILogger logger, string roomId, string reason);

    [LoggerMessage(5, LogLevel.Information, "Rooms, history, the event log and the SignalR backplane are in Redis ({Endpoints})")]
    public static partial void Using(ILogger logger, string endpoints);

    [LoggerMessage(12, LogLevel.Warning, "Redis did not take the user message {Method} ({Reason}); sent to this node's connections only")]
    public static partial void UserMessageLocalOnly(ILogger logger, string method, string reason);

    [LoggerMessage(13, LogLevel.Error, "A user message from another node could not be read")]
    public static partial void BadUserMessage(ILogger logger, Exception exception);
}
