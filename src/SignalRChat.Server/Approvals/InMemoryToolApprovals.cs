using System.Collections.Concurrent;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Approvals;

/// <summary>The single-node approvals; decided ones are remembered for a while so that a late decision is answered false, not unknown.</summary>
internal sealed class InMemoryToolApprovals(TimeProvider time) : IToolApprovals
{
    private const int RememberDecided = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _decidedOrder = new();

    public Task OpenAsync(string approvalId, string roomId, CancellationToken cancellationToken)
    {
        _entries[approvalId] = new Entry(roomId);
        return Task.CompletedTask;
    }

    public Task<string?> FindRoomAsync(string approvalId, CancellationToken cancellationToken) =>
        Task.FromResult(_entries.TryGetValue(approvalId, out var entry) ? entry.RoomId : null);

    public Task<bool> DecideAsync(string approvalId, ApprovalDecision decision, CancellationToken cancellationToken)
    {
        if (!_entries.TryGetValue(approvalId, out var entry) || !entry.Decision.TrySetResult(decision))
        {
            return Task.FromResult(false);
        }

        _decidedOrder.Enqueue(approvalId);
        while (_decidedOrder.Count > RememberDecided && _decidedOrder.TryDequeue(out var oldest))
        {
            _entries.TryRemove(oldest, out _);
        }

        return Task.FromResult(true);
    }

    public async Task<ApprovalDecision> WaitAsync(string approvalId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var entry = _entries[approvalId];
        try
        {
            return await entry.Decision.Task.WaitAsync(timeout, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            await DecideAsync(approvalId, new ApprovalDecision(ApprovalStates.Expired, null), CancellationToken.None);
            return await entry.Decision.Task;
        }
    }

    private sealed class Entry(string roomId)
    {
        public string RoomId { get; } = roomId;

        public TaskCompletionSource<ApprovalDecision> Decision { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
