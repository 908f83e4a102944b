namespace SignalRChat.Server.Generation;

internal static partial class GenerationLog
{
    [LoggerMessage(1, LogLevel.Information,
        "Generation {GenerationId} in room {RoomId} ended {State}: {Tokens} tokens, first token after {FirstTokenMs} ms, {TotalMs} ms in all")]
    public static partial void Finished(ILogger logger, string roomId, string generationId, string state, int tokens, long firstTokenMs, long totalMs);

    [LoggerMessage(2, LogLevel.Warning, "Generation {GenerationId} in room {RoomId} failed: {Reason}")]
    public static partial void Failed(ILogger logger, string roomId, string generationId, string reason, Exception exception);

    [LoggerMessage(3, LogLevel.Information, "Shutting down: no new replies; running ones have {Seconds} s to finish")]
    public static partial void Draining(ILogger logger, double seconds);

    [LoggerMessage(4, LogLevel.Warning, "Generation {GenerationId} in room {RoomId} failed: {Reason}")]
    public static partial void ModelServerFailed(ILogger logger, string roomId, string generationId, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Generation {GenerationId} in room {RoomId} was given up by another node (its lease ran out) while it ran here: stopped, as its final status is written")]
    public static partial void GivenUpElsewhere(ILogger logger, string roomId, string generationId);
}
