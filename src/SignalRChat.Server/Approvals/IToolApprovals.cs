namespace SignalRChat.Server.Approvals;

/// <summary>
/// Pending tool-call approvals and their decisions, first decision wins. In memory for one node; in Redis when a
/// decision made on one node must reach the reply waiting on another.
/// </summary>
internal interface IToolApprovals
{
    /// <summary>Records a pending approval of a reply in <paramref name="roomId"/>.</summary>
    Task OpenAsync(string approvalId, string roomId, CancellationToken cancellationToken);

    /// <summary>The room of a pending or decided approval, or null when unknown.</summary>
    Task<string?> FindRoomAsync(string approvalId, CancellationToken cancellationToken);

    /// <summary>Decides a pending approval; false when it was already decided or expired.</summary>
    Task<bool> DecideAsync(string approvalId, ApprovalDecision decision, CancellationToken cancellationToken);

    /// <summary>
    /// Waits for the decision. After <paramref name="timeout"/>, or when <paramref name="cancellationToken"/> trips, the
    /// approval expires unless a decision got in first; the answer is whichever won.
    /// </summary>
    Task<ApprovalDecision> WaitAsync(string approvalId, TimeSpan timeout, CancellationToken cancellationToken);
}
