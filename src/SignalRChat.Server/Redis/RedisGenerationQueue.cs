using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Generation;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;
using StackExchange.Redis;
using GenerationJob = SignalRChat.Server.Generation.Generation;

namespace SignalRChat.Server.Redis;

/// <summary>Settings of section <c>Chat:Redis</c>.</summary>
public sealed class RedisGenerationOptions
{
    public const string Section = "Chat:Redis";

    /// <summary>How long a node's claim on a running generation lasts without renewal.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How often leases are renewed and expired ones looked for.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// The per-room generation queue shared by every node through Redis: whichever node receives a
/// message, one generation runs per room at a time, in order. The node running one holds a lease
/// it renews; when a node dies its leases expire and another node fails the generation with a
/// clear status and starts the next. Stop reaches the owning node through a Redis channel.
/// </summary>
internal sealed class RedisGenerationQueue(
    IConnectionMultiplexer redis,
    RedisRoomStore rooms,
    GenerationRegistry registry,
    GenerationRunner runner,
    IOptions<LimitOptions> limits,
    IOptions<RedisGenerationOptions> options,
    ChatMetrics metrics,
    TimeProvider time,
    ILogger<RedisGenerationQueue> logger) : IGenerationQueue, IHostedService
{
    private readonly ConcurrentDictionary<Task, byte> _loops = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task? _sweeper;
    private volatile bool _draining;
    private long _lastTroubleAt;

    private long LeaseMs => (long)options.Value.Lease.TotalMilliseconds;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed += (_, _) => Interlocked.Exchange(ref _lastTroubleAt, time.GetTimestamp());
        redis.ConnectionRestored += (_, _) => Interlocked.Exchange(ref _lastTroubleAt, time.GetTimestamp());
        var cancels = await redis.GetSubscriber().SubscribeAsync(RedisKeys.CancelChannel);
        cancels.OnMessage(message => registry.FindLive((string)message.Message!)?.TryCancel());
        _sweeper = Task.Run(() => SweepAsync(_stopping.Token), CancellationToken.None);
    }

    // Leases are renewed until the drain (GenerationDrain, which stops later) is over.
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<SendMessageResult> SubmitAsync(ChatUser user, string roomId, string text, CancellationToken cancellationToken)
    {
        if (_draining)
        {
            throw GenerationQueue.ShuttingDown();
        }

        var message = GenerationQueue.UserMessage(user, text, time);
        var generationId = GenerationJob.NewId();
        var assistantMessageId = "m-" + Guid.NewGuid().ToString("N")[..16];
        var userEvent = new MessageEvent(roomId, message);
        var queued = new StatusEvent(roomId, generationId, GenerationStates.Queued);
        var result = (RedisResult[])(await rooms.RunAsync(roomId, "submit", generationId, limits.Value.MaxQueuedGenerationsPerRoom, LeaseMs,
            EventCodec.Template(userEvent), EventCodec.Hint(userEvent), user.UserId, user.Name, message.MessageId, assistantMessageId,
            EventCodec.Template(queued)))!;
        switch ((string?)result[0])
        {
            case "full":
                throw GenerationQueue.TooManyWaiting(roomId, limits.Value.MaxQueuedGenerationsPerRoom);
            case "run":
                Start(new GenerationJob(roomId, user, message.MessageId, (long)result[1], generationId, assistantMessageId));
                break;
            default:
                metrics.GenerationQueued();
                break;
        }

        return new SendMessageResult(message.MessageId, generationId);
    }

    public async Task<string?> FindRoomAsync(string generationId) =>
        registry.FindRoom(generationId) ?? (string?)await redis.GetDatabase().StringGetAsync(RedisKeys.GenerationRoom(generationId));

    public async Task<bool> CancelAsync(string generationId)
    {
        var roomId = await FindRoomAsync(generationId);
        if (roomId is null)
        {
            return false;
        }

        var cancelled = new StatusEvent(roomId, generationId, GenerationStates.Cancelled, Text: string.Empty);
        var requestedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = (string?)await rooms.RunAsync(roomId, "cancel", generationId, EventCodec.Template(cancelled), EventCodec.Hint(cancelled));
        if (outcome == "signalled")
        {
            // The owner hears it on the cancel channel too; if it is this node, stop at once.
            registry.FindLive(generationId)?.TryCancel();
        }
        else if (outcome == "stopped")
        {
            // A waiting generation: the script appended its cancelled status and took it off the queue.
            metrics.GenerationDequeued();
            metrics.Cancelled(requestedAt);
        }

        return outcome is "stopped" or "signalled";
    }

    public async Task DrainAsync(TimeSpan drainTime, CancellationToken cancellationToken)
    {
        _draining = true;
        await GenerationQueue.WaitOrStopAsync(_loops.Keys, registry, drainTime, cancellationToken);
        await _stopping.CancelAsync();
        if (_sweeper is not null)
        {
            await _sweeper.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void Start(GenerationJob generation)
    {
        registry.Add(generation);
        var loop = Task.Run(() => RunAsync(generation), CancellationToken.None);
        _loops[loop] = 0;
        loop.ContinueWith(t => _loops.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task RunAsync(GenerationJob first)
    {
        for (GenerationJob? next = first; next is not null;)
        {
            var current = next;
            next = null;
            try
            {
                var final = await runner.RunAsync(current);

                // A Stop that won the race in Redis turns a just-completed reply into a cancelled one.
                var cancelled = final.State == GenerationStates.Completed ? final with { State = GenerationStates.Cancelled } : null;
                var (_, written) = await rooms.WriteOwnedAsync(final, "finish", current.Id, LeaseMs,
                    EventCodec.Template(final), EventCodec.Hint(final),
                    cancelled is null ? string.Empty : EventCodec.Template(cancelled), cancelled is null ? string.Empty : EventCodec.Hint(cancelled),
                    _draining ? "1" : "0");
                var result = (RedisResult[])(await written)!;

                // A Stop that reached this node always ends as a cancelled status (the script's choice above).
                metrics.Cancelled(current.CancelRequestedAt);

                next = ReadNext(current.RoomId, result);
                if (next is not null)
                {
                    metrics.GenerationDequeued();
                    registry.Add(next);
                }
            }
            catch (Exception ex)
            {
                GenerationLog.Failed(logger, current.RoomId, current.Id, "the reply could not be finished in Redis", ex);
            }
            finally
            {
                registry.Finished(current);
                current.Dispose();
            }
        }
    }

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

    private async Task SweepAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await timer.WaitForNextTickAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await RenewAsync();

                // After Redis was unreachable, every node's leases look expired: give their owners a
                // full lease to renew before treating any of them as dead.
                var settings = options.Value;
                var calm = time.GetElapsedTime(Interlocked.Read(ref _lastTroubleAt)) > settings.Lease + settings.SweepInterval + settings.SweepInterval;
                if (!_draining && calm)
                {
                    await ReapAsync();
                }
            }
            catch (Exception ex)
            {
                Interlocked.Exchange(ref _lastTroubleAt, time.GetTimestamp());
                RedisLog.SweepFailed(logger, ex);
            }
        }
    }

    private async Task RenewAsync()
    {
        foreach (var generation in registry.Live)
        {
            if ((long)await rooms.RunAsync(generation.RoomId, "renew", generation.Id, LeaseMs) == 0 && generation.Started)
            {
                // Another node already gave up on it: stop here too, so nothing follows its final status.
                RedisLog.LeaseLost(logger, generation.RoomId, generation.Id);
                generation.TryCancel(GenerationErrors.NodeStopped);
            }
        }
    }

    private async Task ReapAsync()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expired = await redis.GetDatabase().SortedSetRangeByScoreAsync(RedisKeys.Leases, double.NegativeInfinity, now);
        foreach (var room in expired)
        {
            var roomId = (string)room!;
            // [the generation failed here, or ''] followed by the generation to start next, if any.
            var result = (RedisResult[])(await rooms.RunAsync(roomId, "reap", LeaseMs, GenerationErrors.NodeStopped))!;
            if ((string?)result[0] is { Length: > 0 } failed)
            {
                RedisLog.Reaped(logger, roomId, failed);
            }

            if (ReadNext(roomId, result[1..]) is { } next)
            {
                metrics.GenerationDequeued();
                Start(next);
            }
        }
    }
}
