using Microsoft.Extensions.Options;
using SignalRChat.Server.Generation;
using SignalRChat.Server.Storage;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Keeps this node's leases alive and looks for rooms whose node died: their reply is failed with a
/// clear status (and in the record) and the next one starts here when this node has a free slot. Also hears Stops for
/// replies running here. Runs until the drain on shutdown is over, so leases hold while replies finish.
/// </summary>
internal sealed class RedisLeaseSweeper(
    IConnectionMultiplexer redis,
    RedisGenerationBackend backend,
    RedisNode node,
    GenerationHost host,
    ChatRecorder recorder,
    IOptions<RedisGenerationOptions> options,
    TimeProvider time,
    ILogger<RedisLeaseSweeper> logger) : BackgroundService
{
    private long _lastTroubleAt;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed += (_, _) => Interlocked.Exchange(ref _lastTroubleAt, time.GetTimestamp());
        redis.ConnectionRestored += (_, _) => Interlocked.Exchange(ref _lastTroubleAt, time.GetTimestamp());
        var cancels = await redis.GetSubscriber().SubscribeAsync(RedisKeys.NodeCancelChannel(node.Id));
        cancels.OnMessage(message =>
        {
            if (RedisGenerationBackend.ParseCancel((string)message.Message!) is { } stop)
            {
                host.StopHere(stop.GenerationId, stop.Stop);
            }
        });
        await base.StartAsync(cancellationToken);
    }

    // The stopping token is not this loop's end: leases are renewed until the drain (which began when shutdown was asked for) is over.
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        while (!host.Drained.IsCompleted)
        {
            await Task.WhenAny(timer.WaitForNextTickAsync().AsTask(), host.Drained);
            if (host.Drained.IsCompleted)
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
                if (!host.Draining && calm)
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

    // Every live reply's lease at once, not one after another: one after another, a sweep took two round trips per reply,
    // so with many replies on a busy machine the last ones were renewed after their lease had run out, and another node
    // gave them up as failed while they were still streaming here.
    private async Task RenewAsync()
    {
        var renewals = host.Live.Select(async generation => (Generation: generation, Renewed: await backend.RenewAsync(generation))).ToList();
        foreach (var (generation, renewed) in await Task.WhenAll(renewals))
        {
            // Another node already gave up on it: stop here too, so nothing follows its final status. A reply that finished
            // while its renewal was on the way has no lease left either, and is not stopped or reported.
            if (!renewed && generation.Started && generation.TryCancel(StopRequest.LeaseLost))
            {
                RedisLog.LeaseLost(logger, generation.RoomId, generation.Id);
            }
        }
    }

    private async Task ReapAsync()
    {
        foreach (var roomId in await backend.ExpiredRoomsAsync())
        {
            var slot = host.TryTakeSlot();
            var (failed, message, next) = await backend.ReapAsync(roomId, slot);
            if (failed is not null)
            {
                RedisLog.Reaped(logger, roomId, failed);
            }

            if (message is not null)
            {
                recorder.ReplyFailedElsewhere(roomId, message, GenerationErrors.NodeStopped);
            }

            if (next is not null)
            {
                host.StartDequeued(next);
            }
            else if (slot)
            {
                host.ReleaseSlot();
            }
        }
    }
}
