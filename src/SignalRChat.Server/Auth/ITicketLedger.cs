namespace SignalRChat.Server.Auth;

/// <summary>
/// Remembers which tickets were used, each until it expires: in memory on one node, or in Redis, where every
/// node sees a use at once. Two implementations: <see cref="InMemoryTicketLedger"/> and <c>RedisTicketLedger</c>.
/// </summary>
internal interface ITicketLedger
{
    /// <summary>Marks the ticket used until <paramref name="expires"/>; false when it was used before (or the ledger is full).</summary>
    Task<bool> TryUseAsync(string ticketId, DateTimeOffset expires, CancellationToken cancellationToken);
}
