using System.Diagnostics;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;

namespace SignalRChat.Server.Generation;

/// <summary>One assistant reply: queued, then running, then finished. Owns the token that Stop trips.</summary>
internal sealed class Generation(string roomId, ChatUser requestedBy, string userMessageId, long userMessageSeq = 0, string? id = null, string? assistantMessageId = null) : IDisposable
{
    private readonly Lock _lock = new();
    private bool _cancelRequested;
    private bool _finished;

    public string Id { get; } = id ?? NewId();

    public string RoomId { get; } = roomId;

    public ChatUser RequestedBy { get; } = requestedBy;

    public string UserMessageId { get; } = userMessageId;

    /// <summary>The seq of the user message this replies to (known once that message is appended).</summary>
    public long UserMessageSeq { get; set; } = userMessageSeq;

    public string AssistantMessageId { get; } = assistantMessageId ?? "m-" + Guid.NewGuid().ToString("N")[..16];

    public static string NewId() => "g-" + Guid.NewGuid().ToString("N")[..16];

    public CancellationTokenSource Cancellation { get; } = new();

    public bool Started { get; set; }

    /// <summary>The trace of the call that asked for this reply (a hub invocation or an HTTP request), if it is still running.</summary>
    public ActivityContext Origin { get; } = Activity.Current is { IsStopped: false } current ? current.Context : default;

    /// <summary>When a Stop reached this generation (a <see cref="Stopwatch"/> timestamp), or 0.</summary>
    public long CancelRequestedAt { get; private set; }

    /// <summary>Who or what stopped the generation, once it was stopped.</summary>
    public StopRequest? Stop { get; private set; }

    /// <summary>For a regenerated reply: the id of the reply it replaces.</summary>
    public string? Regenerates { get; init; }

    /// <summary>True when this call is the one that stopped the generation.</summary>
    public bool TryCancel(StopRequest stop)
    {
        lock (_lock)
        {
            if (_finished || _cancelRequested)
            {
                return false;
            }

            _cancelRequested = true;
            Stop = stop;
            CancelRequestedAt = Stopwatch.GetTimestamp();
        }

        Cancellation.Cancel();
        return true;
    }

    /// <summary>Marks the generation finished: later Stops return false. True when a Stop got in first.</summary>
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
