namespace SignalRChat.Server.Rooms;

/// <summary>Settings of section <c>Chat:Rooms</c>: how much of each room a node keeps.</summary>
public sealed class RoomOptions
{
    public const string Section = "Chat:Rooms";

    /// <summary>Messages kept per room for history and snapshots.</summary>
    public int MaxHistoryMessages { get; set; } = 200;

    /// <summary>Events kept per room for <c>Resume</c> and <c>Last-Event-ID</c>.</summary>
    public int EventLogSize { get; set; } = 10_000;

    /// <summary>How long an event stays resumable.</summary>
    public TimeSpan EventLogMaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How many messages a snapshot carries.</summary>
    public int SnapshotMessages { get; set; } = 100;
}

/// <summary>Settings of section <c>Chat:Limits</c>.</summary>
public sealed class LimitOptions
{
    public const string Section = "Chat:Limits";

    public int MaxMessageChars { get; set; } = 16_000;

    /// <summary>Generations that may wait behind the running one in a room.</summary>
    public int MaxQueuedGenerationsPerRoom { get; set; } = 20;

    /// <summary>Rooms one connection may be in at once.</summary>
    public int MaxRoomsPerConnection { get; set; } = 50;
}
