namespace SignalRChat.Server.Redis;

/// <summary>Settings of section <c>Chat:Redis</c>.</summary>
public sealed class RedisGenerationOptions
{
    public const string Section = "Chat:Redis";

    /// <summary>How long a node's claim on a running generation lasts without renewal.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How often leases are renewed and expired ones looked for.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a room's hot state (seq, log window, history cache, members) stays in Redis with nothing happening in it; 0 keeps it.</summary>
    public TimeSpan IdleRoomTtl { get; set; } = TimeSpan.FromDays(7);
}
