using Microsoft.Extensions.Options;
using SignalRChat.Server.Generation;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Fanout;

/// <summary>
/// On a timer: releases the rooms this node has not needed for <c>Chat:Rooms:IdleTime</c> (a room
/// with a reply running here stays: the reply keeps appending) and trims the in-memory event logs
/// by age, so a room nobody writes to does not keep its log either.
/// </summary>
internal sealed class RoomSweeper(RoomFanout fanout, IRoomEventBus bus, GenerationRegistry generations, IOptions<RoomOptions> options,
    TimeProvider time, ILogger<RoomSweeper> logger) : BackgroundService
{
    private static readonly TimeSpan MaxPeriod = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MinPeriod = TimeSpan.FromMilliseconds(20);

    /// <summary>A quarter of the idle time (within bounds), so a room goes at most a quarter late.</summary>
    public static TimeSpan PeriodFor(RoomOptions settings)
    {
        var quarter = settings.IdleTime / 4;
        return quarter < MinPeriod ? MinPeriod : quarter > MaxPeriod ? MaxPeriod : quarter;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PeriodFor(options.Value), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepAsync();
                }
                catch (Exception ex)
                {
                    FanoutLog.SweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task SweepAsync()
    {
        var busy = new HashSet<string>(generations.Live.Select(g => g.RoomId), StringComparer.Ordinal);
        await fanout.SweepAsync(busy);
        // The bus is the hot store itself (the record, when there is one, wraps the store, not the bus).
        (bus as InMemoryRoomStore)?.TrimLogs();
    }
}
