using System.Text.Json;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Generation;
using StackExchange.Redis;
using GenerationJob = SignalRChat.Server.Generation.Generation;

namespace SignalRChat.Server.Redis;

/// <summary>
/// The per-room generation queue shared by every node through Redis: whichever node receives a
/// message, one generation runs per room at a time, in order. The queue, the running reply, its lease
/// and recorded Stops live in the room's own keys (<see cref="QueueScripts"/>). The node running a
/// reply renews its lease (<see cref="RedisLeaseSweeper"/>); rooms with a running reply are listed in
/// lease index buckets, written before the script that needs them, so a room can be listed without
/// running anything (harmless: the sweep finds it alive or idle) but never runs unlisted. A Stop is
/// recorded in Redis and sent to the owning node's own channel.
/// </summary>
internal sealed class RedisGenerationBackend(IConnectionMultiplexer redis, RedisRoomStore rooms, RedisNode node, IOptions<RedisGenerationOptions> options, TimeProvider time)
    : IGenerationBackend
{
    private long LeaseMs => (long)options.Value.Lease.TotalMilliseconds;

    private IDatabase Db => redis.GetDatabase();

    public async Task<SubmitOutcome> SubmitAsync(GenerationJob generation, ChatMessage userMessage, int maxWaiting, bool mayStart, CancellationToken cancellationToken)
    {
        var roomId = generation.RoomId;
        var userEvent = new MessageEvent(roomId, userMessage);
        var args = rooms.Args(roomId);
        args.Gen = generation.Id;
        args.MaxWaiting = maxWaiting;
        args.LeaseMs = LeaseMs;
        args.MayStart = mayStart ? "1" : "0";
        // A reply to a message already in the room (Regenerate) has its seq, and appends no message.
        if (generation.UserMessageSeq == 0)
        {
            args.UserJson = EventCodec.Template(userEvent);
            args.UserHint = EventCodec.Hint(userEvent);
        }

        args.UserSeq = generation.UserMessageSeq;
        args.Regenerates = generation.Regenerates ?? string.Empty;
        args.User = generation.RequestedBy.UserId;
        args.Name = generation.RequestedBy.Name;
        args.UserMessageId = userMessage.MessageId;
        args.AssistantMessageId = generation.AssistantMessageId;
        args.QueuedJson = EventCodec.Template(new StatusEvent(roomId, generation.Id, GenerationStates.Queued));
        args.Node = node.Id;

        // Written first, each in its own slot: the generation's room (for a Stop that names only the
        // generation) and the room's lease listing (for a reply that starts now).
        await RunAsync(() => Db.StringSetAsync(RedisKeys.GenerationRoom(generation.Id), roomId, TimeSpan.FromHours(1)));
        if (mayStart)
        {
            await ListAsync(roomId, LeaseMs);
        }

        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await rooms.RunAsync(roomId, "submit", QueueScripts.Submit, args))!;
        }
        catch
        {
            await ((Task)Db.KeyDeleteAsync(RedisKeys.GenerationRoom(generation.Id))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        switch ((string?)result[0])
        {
            case "full":
            case "busy":
                // A refused message leaves nothing behind.
                await ((Task)Db.KeyDeleteAsync(RedisKeys.GenerationRoom(generation.Id))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                return (string?)result[0] == "full" ? SubmitOutcome.Full : SubmitOutcome.Busy;
            case "run":
                generation.UserMessageSeq = (long)result[1];
                return SubmitOutcome.Started;
            default:
                generation.UserMessageSeq = (long)result[1];
                return SubmitOutcome.Queued;
        }
    }

    public async Task<string?> FindRoomAsync(string generationId) => (string?)await RunAsync(() => Db.StringGetAsync(RedisKeys.GenerationRoom(generationId)));

    public async Task<CancelOutcome> CancelAsync(string roomId, string generationId, StopRequest stop, StatusEvent cancelledIfWaiting)
    {
        var args = rooms.Args(roomId);
        args.Gen = generationId;
        args.Json = EventCodec.Template(cancelledIfWaiting);
        args.Hint = EventCodec.Hint(cancelledIfWaiting);
        args.Reason = stop.Reason;
        args.StopUser = stop.By?.UserId ?? string.Empty;
        args.StopName = stop.By?.Name ?? string.Empty;
        var result = (RedisResult[])(await rooms.RunAsync(roomId, "cancel", QueueScripts.Cancel, args))!;
        switch ((string?)result[0])
        {
            case "stopped":
                return CancelOutcome.Dequeued;
            case "signalled":
                if ((string?)result[1] is { Length: > 0 } owner && owner != node.Id)
                {
                    // The Stop is recorded either way; the message only makes the owner stop the model sooner.
                    await ((Task)Db.PublishAsync(RedisKeys.NodeCancelChannel(owner), FormatCancel(generationId, stop))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                return CancelOutcome.Signalled;
            default:
                return CancelOutcome.None;
        }
    }

    public async Task<StopRequest?> CloseAsync(GenerationJob generation)
    {
        var args = rooms.Args(generation.RoomId);
        args.Gen = generation.Id;
        var result = (RedisResult[])(await rooms.RunAsync(generation.RoomId, "close", QueueScripts.Close, args, writes: false))!;
        return (string?)result[0] == "1" ? ReadStop((string)result[1]!, (string)result[2]!, (string)result[3]!) : null;
    }

    public async Task<GenerationJob?> FinishAsync(GenerationJob generation, StatusEvent final, bool mayStartNext)
    {
        var args = rooms.Args(generation.RoomId);
        args.Gen = generation.Id;
        args.LeaseMs = LeaseMs;
        args.Json = EventCodec.Template(final);
        args.Hint = EventCodec.Hint(final);
        args.Draining = mayStartNext ? "0" : "1";
        args.Node = node.Id;
        var (_, written) = await rooms.WriteOwnedAsync(final, "finish", QueueScripts.Finish, args);
        var result = (RedisResult[])(await written)!;
        await FollowAsync(generation.RoomId, (string?)result[0]);
        return ReadNext(generation.RoomId, result);
    }

    // Waiting replies stay in Redis: another node's sweep starts them once this node has let their rooms go.
    public Task<int> CancelWaitingAsync(Func<GenerationJob, StatusEvent> cancelled) => Task.FromResult(0);

    /// <summary>Renews the lease of a reply this node runs; false when another node already gave it up.</summary>
    public async Task<bool> RenewAsync(GenerationJob generation)
    {
        await ListAsync(generation.RoomId, LeaseMs);
        var args = rooms.Args(generation.RoomId);
        args.Gen = generation.Id;
        args.LeaseMs = LeaseMs;
        return (long)await rooms.RunAsync(generation.RoomId, "renew", QueueScripts.Renew, args, writes: false) == 1;
    }

    /// <summary>Rooms listed with a lease that ran out, over every bucket: their node may have died.</summary>
    public async Task<IReadOnlyList<string>> ExpiredRoomsAsync()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var reads = Enumerable.Range(0, RedisKeys.LeaseBuckets)
            .Select(bucket => Db.SortedSetRangeByScoreAsync(RedisKeys.LeaseBucket(bucket), double.NegativeInfinity, now, take: 100))
            .ToList();
        await Task.WhenAll(reads);
        return reads.SelectMany(r => r.Result).Select(r => (string)r!).ToList();
    }

    /// <summary>
    /// Fails the dead node's reply in <paramref name="roomId"/>; returns its id (or null), its message as failed in the room
    /// (null when the history no longer has it), and the next reply, to run here when <paramref name="mayStart"/>.
    /// </summary>
    public async Task<(string? Failed, ChatMessage? FailedMessage, GenerationJob? Next)> ReapAsync(string roomId, bool mayStart)
    {
        if (mayStart)
        {
            await ListAsync(roomId, LeaseMs);
        }

        var args = rooms.Args(roomId);
        args.LeaseMs = LeaseMs;
        args.Error = GenerationErrors.NodeStopped;
        args.MayStart = mayStart ? "1" : "0";
        args.Node = node.Id;
        var result = (RedisResult[])(await rooms.RunAsync(roomId, "reap", QueueScripts.Reap, args))!;
        var failed = (string?)result[0] is { Length: > 0 } id ? id : null;
        var message = (string?)result[1] is { Length: > 0 } json ? JsonSerializer.Deserialize<ChatMessage>(json, ChatJson.Options) : null;
        var outcome = (string?)result[2];
        if (outcome != "alive")
        {
            await FollowAsync(roomId, outcome);
        }

        return (failed, message, ReadNext(roomId, result[2..]));
    }

    /// <summary>Keeps the lease listing in step with what a script did to the room.</summary>
    private Task FollowAsync(string roomId, string? outcome) => outcome switch
    {
        "next" => ListAsync(roomId, LeaseMs),
        "free" => Db.SortedSetRemoveAsync(RedisKeys.LeaseBucketOf(roomId), roomId),
        "wait" => ListAsync(roomId, -1),
        _ => Task.CompletedTask,
    };

    private Task ListAsync(string roomId, long leaseMs) =>
        RunAsync(() => Db.SortedSetAddAsync(RedisKeys.LeaseBucketOf(roomId), roomId, time.GetUtcNow().ToUnixTimeMilliseconds() + leaseMs));

    private static async Task<T> RunAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (RedisScriptInvoker.IsUnreachable(ex))
        {
            throw RedisScriptInvoker.Unavailable();
        }
    }

    private static string FormatCancel(string generationId, StopRequest stop) =>
        string.Join('\n', generationId, stop.Reason, stop.By?.UserId ?? string.Empty, stop.By?.Name ?? string.Empty);

    /// <summary>Reads a Stop sent on a node's cancel channel: generation id, reason, stopper id and name.</summary>
    public static (string GenerationId, StopRequest Stop)? ParseCancel(string message)
    {
        var parts = message.Split('\n');
        return parts.Length < 4 ? null : (parts[0], ReadStop(parts[1], parts[2], parts[3]));
    }

    private static StopRequest ReadStop(string reason, string userId, string name) =>
        new(userId.Length == 0 ? null : new RoomMember(userId, name), reason.Length == 0 ? CancelReasons.Stopped : reason);

    // {'next', id, user, name, user message id, its seq, assistant message id}
    private static GenerationJob? ReadNext(string roomId, RedisResult[] result)
    {
        if (result.Length < 7 || (string?)result[0] != "next")
        {
            return null;
        }

        var user = new ChatUser((string)result[2]!, (string)result[3]!);
        var regenerates = result.Length > 7 ? (string?)result[7] : null;
        return new GenerationJob(roomId, user, (string)result[4]!, long.Parse((string)result[5]!, System.Globalization.CultureInfo.InvariantCulture),
            (string)result[1]!, (string)result[6]!) { Regenerates = string.IsNullOrEmpty(regenerates) ? null : regenerates };
    }
}
