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

    /// <summary>How long a room stays held on this node after its last member, stream or running reply here is gone.</summary>
    public TimeSpan IdleTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The most events one <c>Resume</c> or <c>Last-Event-ID</c> replays; a reader further behind gets <c>reset</c>.</summary>
    public int MaxReplayEvents { get; set; } = 1000;
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

    /// <summary>Messages one user may send a minute, in bursts of up to as many (a token bucket).</summary>
    public int MessagesPerMinute { get; set; } = 20;

    /// <summary>Replies this node generates at once, over all rooms.</summary>
    public int MaxConcurrentGenerationsPerNode { get; set; } = 64;

    /// <summary>Hub connections one user may hold open at once (tabs, devices).</summary>
    public int MaxConnectionsPerUser { get; set; } = 10;

    /// <summary>Guest sign-ins from one client address a minute; when unset 30, or no limit in Development; 0 switches it off.</summary>
    public int? GuestSignInsPerMinute { get; set; }

    /// <summary>Rooms one user may bring into being an hour (<c>CreateRoom</c>, or joining, streaming or posting to an unknown id).</summary>
    public int RoomsCreatedPerHour { get; set; } = 60;

    /// <summary>Joins, leaves and stream openings one user may make a minute (a repeated join of a room already joined is free).</summary>
    public int MembershipChangesPerMinute { get; set; } = 120;

    /// <summary>Model output tokens a user's requests may spend a day (UTC); 0 switches the budget off.</summary>
    public long DailyTokensPerUser { get; set; } = 200_000;
}
