using SignalRChat.Server.Auth;

namespace SignalRChat.Server.Generation;

/// <summary>One assistant reply: queued, then running, then finished. Owns the token that Stop trips.</summary>
internal sealed class Generation(string roomId, ChatUser requestedBy, string userMessageId, long userMessageSeq, string? id = null, string? assistantMessageId = null) : IDisposable
{
    private readonly Lock _lock = new();
    private bool _cancelRequested;
    private bool _finished;

    public string Id { get; } = id ?? NewId();

    public string RoomId { get; } = roomId;

    public ChatUser RequestedBy { get; } = requestedBy;

    public string UserMessageId { get; } = userMessageId;

    public long UserMessageSeq { get; } = userMessageSeq;

    public string AssistantMessageId { get; } = assistantMessageId ?? "m-" + Guid.NewGuid().ToString("N")[..16];

    public static string NewId() => "g-" + Guid.NewGuid().ToString("N")[..16];

    public CancellationTokenSource Cancellation { get; } = new();

    public bool Started { get; set; }

    /// <summary>Why the generation was stopped, when it was not a member's Stop (a shutdown).</summary>
    public string? CancelReason { get; private set; }

    /// <summary>True when this call is the one that stopped the generation.</summary>
    public bool TryCancel(string? reason = null)
    {
        lock (_lock)
        {
            if (_finished || _cancelRequested)
            {
                return false;
            }

            _cancelRequested = true;
            CancelReason = reason;
        }

        Cancellation.Cancel();
        return true;
    }

    /// <summary>Marks the generation finished; true when a cancel got in first.</summary>
    public bool Finish()
    {
        lock (_lock)
        {
            _finished = true;
            return _cancelRequested;
        }
    }

    public void Dispose() => Cancellation.Dispose();
}
