using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Generation;
using StackExchange.Redis;
using GenerationJob = SignalRChat.Server.Generation.Generation;

namespace SignalRChat.Server.Redis;

/// <summary>
/// The per-room generation queue shared by every node through Redis: whichever node receives a
/// message, one generation runs per room at a time, in order. The node running one holds a lease it
/// renews (<see cref="RedisLeaseSweeper"/>); a Stop is recorded in the generation's hash and reaches
/// the owning node on the cancel channel.
/// </summary>
internal sealed class RedisGenerationBackend(IConnectionMultiplexer redis, RedisRoomStore rooms, IOptions<RedisGenerationOptions> options) : IGenerationBackend
{
    private long LeaseMs => (long)options.Value.Lease.TotalMilliseconds;

    public async Task<SubmitOutcome> SubmitAsync(GenerationJob generation, ChatMessage userMessage, int maxWaiting, bool mayStart, CancellationToken cancellationToken)
    {
        var userEvent = new MessageEvent(generation.RoomId, userMessage);
        var queued = new StatusEvent(generation.RoomId, generation.Id, GenerationStates.Queued);
        var result = (RedisResult[])(await rooms.RunAsync(generation.RoomId, "submit", generation.Id, maxWaiting, LeaseMs,
            EventCodec.Template(userEvent), EventCodec.Hint(userEvent), generation.RequestedBy.UserId, generation.RequestedBy.Name, userMessage.MessageId,
            generation.AssistantMessageId, EventCodec.Template(queued), mayStart ? "1" : "0"))!;
        switch ((string?)result[0])
        {
            case "full":
                return SubmitOutcome.Full;
            case "busy":
                return SubmitOutcome.Busy;
            case "run":
                generation.UserMessageSeq = (long)result[1];
                return SubmitOutcome.Started;
            default:
                generation.UserMessageSeq = (long)result[1];
                return SubmitOutcome.Queued;
        }
    }

    public async Task<string?> FindRoomAsync(string generationId) =>
        (string?)await redis.GetDatabase().StringGetAsync(RedisKeys.GenerationRoom(generationId));

    public async Task<CancelOutcome> CancelAsync(string roomId, string generationId, StopRequest stop, StatusEvent cancelledIfWaiting)
    {
        var outcome = (string?)await rooms.RunAsync(roomId, "cancel", generationId, EventCodec.Template(cancelledIfWaiting), EventCodec.Hint(cancelledIfWaiting),
            stop.Reason, stop.By?.UserId ?? string.Empty, stop.By?.Name ?? string.Empty);
        return outcome switch
        {
            "stopped" => CancelOutcome.Dequeued,
            "signalled" => CancelOutcome.Signalled,
            _ => CancelOutcome.None,
        };
    }

    public async Task<StopRequest?> CloseAsync(GenerationJob generation)
    {
        var result = (RedisResult[])(await rooms.RunAsync(generation.RoomId, "close", generation.Id))!;
        return (string?)result[0] == "1" ? ReadStop((string)result[1]!, (string)result[2]!, (string)result[3]!) : null;
    }

    public async Task<GenerationJob?> FinishAsync(GenerationJob generation, StatusEvent final, bool mayStartNext)
    {
        var (_, written) = await rooms.WriteOwnedAsync(final, "finish", generation.Id, LeaseMs, EventCodec.Template(final), EventCodec.Hint(final),
            mayStartNext ? "0" : "1");
        return ReadNext(generation.RoomId, (RedisResult[])(await written)!);
    }

    // Waiting replies stay in Redis: another node's sweep starts them once this node has let their rooms go.
    public Task<int> CancelWaitingAsync(Func<GenerationJob, StatusEvent> cancelled) => Task.FromResult(0);

    /// <summary>Renews the lease of a reply this node runs; false when another node already gave it up.</summary>
    public async Task<bool> RenewAsync(GenerationJob generation) => (long)await rooms.RunAsync(generation.RoomId, "renew", generation.Id, LeaseMs) == 1;

    /// <summary>Rooms whose lease ran out: their node stopped renewing.</summary>
    public async Task<IReadOnlyList<string>> ExpiredRoomsAsync(long nowMs) =>
        (await redis.GetDatabase().SortedSetRangeByScoreAsync(RedisKeys.Leases, double.NegativeInfinity, nowMs)).Select(r => (string)r!).ToList();

    /// <summary>Fails the dead node's reply in <paramref name="roomId"/>; returns its id (or null) and the next reply, to run here when <paramref name="mayStart"/>.</summary>
    public async Task<(string? Failed, GenerationJob? Next)> ReapAsync(string roomId, bool mayStart)
    {
        var result = (RedisResult[])(await rooms.RunAsync(roomId, "reap", LeaseMs, GenerationErrors.NodeStopped, mayStart ? "1" : "0"))!;
        var failed = (string?)result[0] is { Length: > 0 } id ? id : null;
        return (failed, ReadNext(roomId, result[1..]));
    }

    /// <summary>Reads a Stop published on the cancel channel: generation id, reason, stopper id and name.</summary>
    public static (string GenerationId, StopRequest Stop)? ParseCancel(string message)
    {
        var parts = message.Split('\n');
        return parts.Length < 4 ? null : (parts[0], ReadStop(parts[1], parts[2], parts[3]));
    }

    private static StopRequest ReadStop(string reason, string userId, string name) =>
        new(userId.Length == 0 ? null : new RoomMember(userId, name), reason.Length == 0 ? CancelReasons.Stopped : reason);

    private static GenerationJob? ReadNext(string roomId, RedisResult[] result)
    {
        if (result.Length < 6)
        {
            return null;
        }

        var user = new ChatUser((string)result[1]!, (string)result[2]!);
        return new GenerationJob(roomId, user, (string)result[3]!, long.Parse((string)result[4]!, System.Globalization.CultureInfo.InvariantCulture),
            (string)result[0]!, (string)result[5]!);
    }
}
