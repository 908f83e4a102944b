namespace SignalRChat.Server.Limits;

/// <summary>
/// The model tokens one reply has cost so far beyond its own stream: the model calls made inside its
/// tools (room_summary). Flows with the reply's async context, so a tool adds to the reply that called it.
/// </summary>
internal sealed class ReplyCost
{
    private static readonly AsyncLocal<ReplyCost?> CurrentCost = new();
    private long _toolTokens;

    public static ReplyCost? Current => CurrentCost.Value;

    public long ToolTokens => Interlocked.Read(ref _toolTokens);

    /// <summary>Makes a new cost current for the reply that runs in this context.</summary>
    public static ReplyCost Begin()
    {
        var cost = new ReplyCost();
        CurrentCost.Value = cost;
        return cost;
    }

    public void AddToolTokens(long tokens) => Interlocked.Add(ref _toolTokens, Math.Max(0, tokens));
}
