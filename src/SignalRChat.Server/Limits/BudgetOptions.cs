namespace SignalRChat.Server.Limits;

/// <summary>The model budgets of section <c>Chat:Limits</c> that hold per client address.</summary>
public sealed class BudgetOptions
{
    /// <summary>
    /// Model tokens the guests signed in from one address (an IPv6 /64) may spend a day (UTC), so a new
    /// guest per request does not get a new budget; 0 switches it off. Unset: 1,000,000, or none in
    /// Development (where every test and benchmark client shares the loopback address).
    /// </summary>
    public long? DailyTokensPerAddress { get; set; }

    public long PerAddress(bool development) => DailyTokensPerAddress ?? (development ? 0 : 1_000_000);
}
