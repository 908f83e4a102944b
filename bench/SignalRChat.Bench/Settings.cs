namespace SignalRChat.Bench;

/// <summary>How big each scenario is: <c>--smoke</c> (seconds, for the test suite), <c>--quick</c> (a minute or two) or full.</summary>
internal sealed record BenchSettings(
    string Mode,
    (int Rooms, int Members)[] FanOut,
    int BurstTokens,
    int PacedTokens,
    int PaceMs,
    int CancelRuns,
    int TtftRuns,
    int AbortRuns,
    int IdleConnections,
    int BytesTokens,
    int TwoNodeMembers,
    int MessagePackMembers,
    int BurstRuns,
    int WarmUpRounds)
{
    public static BenchSettings Smoke { get; } = new("smoke", [(1, 3), (1, 5), (3, 2)], 20, 10, 2, 3, 3, 2, 20, 20, 4, 3, 1, 0);

    public static BenchSettings Quick { get; } = new("quick", [(1, 10), (1, 100), (1, 500), (100, 5)], 200, 100, 5, 40, 40, 20, 2_000, 200, 100, 100, 3, 2);

    public static BenchSettings Full { get; } = new("full", [(1, 10), (1, 100), (1, 500), (100, 5)], 1_000, 400, 5, 200, 200, 100, 20_000, 500, 100, 100, 5, 2);
}
