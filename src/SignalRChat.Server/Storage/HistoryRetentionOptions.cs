namespace SignalRChat.Server.Storage;

/// <summary><c>Chat:Rooms:HistoryRetention</c>: how long stored messages are kept; unset keeps them forever.</summary>
internal sealed class HistoryRetentionOptions
{
    public const string Section = "Chat:Rooms";

    public TimeSpan? HistoryRetention { get; set; }

    /// <summary>How often messages older than the retention are removed.</summary>
    public TimeSpan RetentionSweepInterval { get; set; } = TimeSpan.FromMinutes(10);
}
