using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Storage;

/// <summary>When <c>Chat:Rooms:HistoryRetention</c> is set, removes older messages on a timer; unset, nothing is ever removed.</summary>
internal sealed class HistoryRetentionService(IChatRecord record, IOptions<HistoryRetentionOptions> options, TimeProvider time,
    ILogger<HistoryRetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.HistoryRetention is not { } retention)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.RetentionSweepInterval, time);
        try
        {
            do
            {
                await RemoveOldAsync(retention, stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RemoveOldAsync(TimeSpan retention, CancellationToken stoppingToken)
    {
        {
            try
            {
                var removed = await record.RemoveMessagesBeforeAsync(time.GetUtcNow() - retention, stoppingToken);
                if (removed > 0)
                {
                    StorageLog.Removed(logger, record.Description, removed, retention);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                StorageLog.RemoveFailed(logger, record.Description, ex);
            }
        }
    }
}
