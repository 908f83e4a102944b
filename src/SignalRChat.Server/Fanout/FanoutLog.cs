namespace SignalRChat.Server.Fanout;

internal static partial class FanoutLog
{
    [LoggerMessage(1, LogLevel.Warning, "Connection {ConnectionId} fell more than {MaxQueued} events behind and was disconnected; it can resume")]
    public static partial void SlowReaderDisconnected(ILogger logger, string connectionId, int maxQueued);

    [LoggerMessage(2, LogLevel.Debug, "Writing to connection {ConnectionId} failed")]
    public static partial void WriteFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(4, LogLevel.Error, "Delivering events of room {RoomId} failed")]
    public static partial void RoomLoopFailed(ILogger logger, string roomId, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Releasing idle room {RoomId} on this node failed")]
    public static partial void RoomReleaseFailed(ILogger logger, string roomId, Exception exception);

    [LoggerMessage(6, LogLevel.Error, "Sweeping idle rooms failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);
}
