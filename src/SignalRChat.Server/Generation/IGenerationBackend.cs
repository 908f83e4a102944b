using SignalRChat.Contracts;

namespace SignalRChat.Server.Generation;

/// <summary>What a backend answers when a message asks for a reply.</summary>
internal enum SubmitOutcome
{
    /// <summary>The room was free: the reply runs now, on this node.</summary>
    Started,

    /// <summary>Another reply runs in the room: this one waits its turn (status <c>queued</c>).</summary>
    Queued,

    /// <summary>The room's queue is full; nothing was appended.</summary>
    Full,

    /// <summary>The reply would start, but this node has no free slot; nothing was appended.</summary>
    Busy,
}

/// <summary>What a backend did with a Stop.</summary>
internal enum CancelOutcome
{
    /// <summary>Nothing to stop: unknown, finished, or already stopped.</summary>
    None,

    /// <summary>It was waiting: taken off the queue, its cancelled status appended.</summary>
    Dequeued,

    /// <summary>It is running: the Stop is recorded where the final status is decided, and its node was told.</summary>
    Signalled,

    /// <summary>It is running on this node and the backend records nothing: the local Stop decides.</summary>
    RunningHere,
}

/// <summary>
/// Where the generation queue lives: in this process, or in Redis for several nodes. A backend only
/// moves data (appends, queues, hands a room to its next reply, records a Stop); the policy (slots,
/// limits, the run loop, the final state of a reply, the drain) is <see cref="GenerationHost"/>'s.
/// </summary>
internal interface IGenerationBackend
{
    /// <summary>
    /// Appends the user message and either starts <paramref name="generation"/> here or queues it; sets its <c>UserMessageSeq</c>.
    /// A generation that already has a <c>UserMessageSeq</c> answers a message in the room (Regenerate): nothing is appended.
    /// </summary>
    Task<SubmitOutcome> SubmitAsync(Generation generation, ChatMessage userMessage, int maxWaiting, bool mayStart, CancellationToken cancellationToken);

    /// <summary>The room of a generation this backend knows (waiting, running, or recently finished), or null.</summary>
    Task<string?> FindRoomAsync(string generationId);

    /// <summary>Stops a waiting generation (appending <paramref name="cancelledIfWaiting"/>), or records a Stop for a running one.</summary>
    Task<CancelOutcome> CancelAsync(string roomId, string generationId, StopRequest stop, StatusEvent cancelledIfWaiting);

    /// <summary>Closes the window in which a Stop can still win; returns a Stop recorded before that, if any.</summary>
    Task<StopRequest?> CloseAsync(Generation generation);

    /// <summary>
    /// Appends the final status and hands the room to its next waiting reply; returns that reply when
    /// it is to run on this node. With <paramref name="mayStartNext"/> false (the node is draining) the
    /// room is freed for another node instead.
    /// </summary>
    Task<Generation?> FinishAsync(Generation generation, StatusEvent final, bool mayStartNext);

    /// <summary>On drain: the waiting replies no other node will run, taken off their queues (their cancelled statuses appended with <paramref name="cancelled"/>).</summary>
    Task<int> CancelWaitingAsync(Func<Generation, StatusEvent> cancelled);
}
