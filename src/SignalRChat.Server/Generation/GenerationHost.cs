using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Storage;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Generation;

/// <summary>
/// This node's replies: the registry of those running here, the node's slots
/// (<c>Chat:Limits:MaxConcurrentGenerationsPerNode</c>), the run loop, local Stop, the drain on
/// shutdown and the metrics. It decides every reply's final status once, whichever backend holds
/// the queue (in memory, or Redis for several nodes).
/// </summary>
internal sealed class GenerationHost(
    IGenerationBackend backend,
    GenerationRegistry registry,
    GenerationRunner runner,
    IOptions<LimitOptions> limits,
    ChatMetrics metrics,
    TimeProvider time,
    ChatRecorder record,
    ILogger<GenerationHost> logger)
{
    private readonly ConcurrentDictionary<Task, byte> _loops = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _draining;
    private int _slotsInUse;

    /// <summary>Replies running on this node now.</summary>
    public int Running => Volatile.Read(ref _slotsInUse);

    public bool Draining => _draining;

    /// <summary>Completes when the drain on shutdown is over (leases are renewed until then).</summary>
    public Task Drained => _drained.Task;

    /// <summary>The generations running on this node.</summary>
    public IReadOnlyCollection<Generation> Live => registry.Live;

    /// <summary>Appends the user's message and starts or queues its reply; returns at once.</summary>
    public Task<SendMessageResult> SubmitAsync(ChatUser user, string roomId, string text, CancellationToken cancellationToken)
    {
        var message = UserMessage(user, text, time);
        return SubmitCoreAsync(new Generation(roomId, user, message.MessageId), message, cancellationToken);
    }

    /// <summary>Starts or queues a new reply to a user message already in the room (Regenerate); <paramref name="regenerates"/>: the reply it replaces.</summary>
    public Task<SendMessageResult> SubmitReplyAsync(ChatUser user, string roomId, ChatMessage userMessage, string? regenerates, CancellationToken cancellationToken) =>
        SubmitCoreAsync(new Generation(roomId, user, userMessage.MessageId, userMessage.Seq) { Regenerates = regenerates }, userMessage, cancellationToken);

    private async Task<SendMessageResult> SubmitCoreAsync(Generation generation, ChatMessage message, CancellationToken cancellationToken)
    {
        var roomId = generation.RoomId;
        if (_draining)
        {
            generation.Dispose();
            throw ShuttingDown();
        }

        // A message the database cannot store is refused before it reaches the room.
        try
        {
            record.ThrowIfDown();
        }
        catch
        {
            generation.Dispose();
            throw;
        }

        var limit = limits.Value;
        var slot = TryTakeSlot();
        SubmitOutcome outcome;
        try
        {
            outcome = await backend.SubmitAsync(generation, message, limit.MaxQueuedGenerationsPerRoom, slot, cancellationToken);
        }
        catch
        {
            // A slot taken for a reply that never started is given back, or a failing store would use the node's slots up one by one.
            if (slot)
            {
                ReleaseSlot();
            }

            generation.Dispose();
            throw;
        }

        if (outcome != SubmitOutcome.Started && slot)
        {
            ReleaseSlot();
        }

        switch (outcome)
        {
            case SubmitOutcome.Started:
                Start(generation);
                break;
            case SubmitOutcome.Queued:
                // Kept by an in-memory backend until it runs; a shared backend makes it afresh on the node that runs it.
                metrics.GenerationQueued();
                break;
            case SubmitOutcome.Full:
                generation.Dispose();
                throw TooManyWaiting(roomId, limit.MaxQueuedGenerationsPerRoom);
            default:
                generation.Dispose();
                throw Busy(limit.MaxConcurrentGenerationsPerNode);
        }

        await record.UserMessageAsync(roomId, message with { Seq = generation.UserMessageSeq }, cancellationToken);
        return new SendMessageResult(message.MessageId, generation.Id);
    }

    /// <summary>
    /// A user message that starts no reply (people talking in a <c>mentioned</c> room), already in the room with its seq:
    /// stored in the record like any other, and the room's other members told of it (<c>roomActivity</c>).
    /// </summary>
    public Task RecordUserMessageAsync(string roomId, ChatMessage message, CancellationToken cancellationToken) =>
        record.UserMessageAsync(roomId, message, cancellationToken);

    /// <summary>Refuses, as a message that starts a reply is refused, while the record cannot take what it is told.</summary>
    public void RequireRecord() => record.ThrowIfDown();

    /// <summary>The room of a generation (running, waiting or recently finished), or null if unknown.</summary>
    public async Task<string?> FindRoomAsync(string generationId) => registry.FindRoom(generationId) ?? await backend.FindRoomAsync(generationId);

    /// <summary>Stops a waiting or running generation, wherever it runs; true when this call stopped it.</summary>
    public async Task<bool> CancelAsync(string roomId, string generationId, StopRequest stop)
    {
        var requestedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = await backend.CancelAsync(roomId, generationId, stop, Cancelled(roomId, generationId, null, stop, string.Empty));
        switch (outcome)
        {
            case CancelOutcome.Dequeued:
                metrics.GenerationDequeued();
                metrics.Cancelled(requestedAt);
                return true;
            case CancelOutcome.Signalled:
                // The owner hears it through the backend too; if it runs here, stop it at once.
                registry.FindLive(generationId)?.TryCancel(stop);
                return true;
            case CancelOutcome.RunningHere:
                return registry.FindLive(generationId)?.TryCancel(stop) ?? false;
            default:
                return false;
        }
    }

    /// <summary>A Stop that reached this node from elsewhere (another node, through the backend).</summary>
    public void StopHere(string generationId, StopRequest stop) => registry.FindLive(generationId)?.TryCancel(stop);

    /// <summary>Takes one of this node's slots for a reply a backend hands over (a dead node's room); false when none is free.</summary>
    public bool TryTakeSlot()
    {
        if (_draining)
        {
            return false;
        }

        if (Interlocked.Increment(ref _slotsInUse) > limits.Value.MaxConcurrentGenerationsPerNode)
        {
            Interlocked.Decrement(ref _slotsInUse);
            return false;
        }

        return true;
    }

    public void ReleaseSlot() => Interlocked.Decrement(ref _slotsInUse);

    /// <summary>Runs a reply that holds a slot taken with <see cref="TryTakeSlot"/> (or by <see cref="SubmitAsync"/>).</summary>
    public void Start(Generation generation)
    {
        registry.Add(generation);
        var loop = Task.Run(() => RunAsync(generation), CancellationToken.None);
        _loops[loop] = 0;
        loop.ContinueWith(t => _loops.TryRemove(t, out _), TaskScheduler.Default);
    }

    /// <summary>Runs a waiting reply that a backend handed to this node (a dead node's room), on a slot already taken.</summary>
    public void StartDequeued(Generation generation)
    {
        metrics.GenerationDequeued();
        Start(generation);
    }

    /// <summary>Stops taking new replies, lets running ones finish within <paramref name="drainTime"/>, then stops the rest.</summary>
    public async Task DrainAsync(TimeSpan drainTime, CancellationToken cancellationToken)
    {
        _draining = true;
        try
        {
            var dequeued = await backend.CancelWaitingAsync(waiting => Cancelled(waiting.RoomId, waiting.Id, null, StopRequest.Shutdown, string.Empty));
            for (var i = 0; i < dequeued; i++)
            {
                metrics.GenerationDequeued();
            }

            var all = Task.WhenAll(_loops.Keys.ToList());
            if (await Task.WhenAny(all, Task.Delay(drainTime, time, cancellationToken)) != all)
            {
                foreach (var generation in registry.Live)
                {
                    generation.TryCancel(StopRequest.Shutdown);
                }

                await all.WaitAsync(TimeSpan.FromSeconds(10), time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            _drained.TrySetResult();
        }
    }

    private async Task RunAsync(Generation first)
    {
        for (var current = first; current is not null;)
        {
            Generation? next = null;
            try
            {
                var outcome = await runner.RunAsync(current);
                var final = await DecideAsync(current, outcome);
                record.ReplyEnded(final);
                next = await backend.FinishAsync(current, final, mayStartNext: !_draining);
                if (final.State == GenerationStates.Cancelled)
                {
                    metrics.Cancelled(current.CancelRequestedAt);
                }
            }
            catch (Exception ex)
            {
                GenerationLog.Failed(logger, current.RoomId, current.Id, "the reply could not be finished", ex);
            }
            finally
            {
                registry.Finished(current);
                current.Dispose();
            }

            if (next is null)
            {
                ReleaseSlot();
            }
            else
            {
                metrics.GenerationDequeued();
                registry.Add(next);
            }

            current = next;
        }
    }

    /// <summary>
    /// The one place a reply's final status is decided: what the model loop ended with, unless a
    /// Stop got in first (here, or recorded by the backend before the window closed), in which case
    /// it is cancelled, attributed to whoever stopped it.
    /// </summary>
    private async Task<StatusEvent> DecideAsync(Generation generation, StatusEvent outcome)
    {
        var stoppedHere = generation.Finish();
        StopRequest? recorded = null;
        try
        {
            recorded = await backend.CloseAsync(generation);
        }
        catch (Exception ex)
        {
            GenerationLog.Failed(logger, generation.RoomId, generation.Id, "a Stop recorded elsewhere could not be read", ex);
        }

        var stop = stoppedHere ? generation.Stop : recorded ?? generation.Stop;
        var cancelled = outcome.State == GenerationStates.Cancelled || (stop is not null && outcome.State == GenerationStates.Completed);
        return cancelled
            ? Cancelled(generation.RoomId, generation.Id, generation.AssistantMessageId, stop ?? StopRequest.Shutdown, outcome.Text) with { Usage = outcome.Usage }
            : outcome;
    }

    private static StatusEvent Cancelled(string roomId, string generationId, string? messageId, StopRequest stop, string? text) =>
        new(roomId, generationId, GenerationStates.Cancelled, Text: text, Error: stop.Error)
        {
            MessageId = messageId,
            CancelledBy = stop.By,
            Reason = stop.Reason,
        };

    internal static ChatMessage UserMessage(ChatUser user, string text, TimeProvider time) =>
        new("m-" + Guid.NewGuid().ToString("N")[..16], 0, user.UserId, user.Name, MessageRoles.User, text, MessageStates.Completed, time.GetUtcNow());

    internal static ChatRequestException TooManyWaiting(string roomId, int maxWaiting) =>
        new(ChatRefusal.TooManyRequests, $"room '{roomId}' already has {maxWaiting} replies waiting (Chat:Limits:MaxQueuedGenerationsPerRoom); try again when one has finished");

    internal static ChatRequestException Busy(int maxRunning) =>
        new(ChatRefusal.Unavailable,
            $"busy: this server already generates {maxRunning} replies at once (Chat:Limits:MaxConcurrentGenerationsPerNode), try again in a moment");

    internal static ChatRequestException ShuttingDown() =>
        new(ChatRefusal.Unavailable, "this server is shutting down; send the message again in a moment");
}
