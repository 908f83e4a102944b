using Microsoft.Extensions.Options;
using SignalRChat.Server.Redis;

namespace SignalRChat.Server.Storage;

/// <summary>
/// Before anything else starts: brings the schema up to date (a database that cannot be reached or
/// migrated stops the start), and on a single node marks the replies it was running when it stopped as failed.
/// </summary>
internal sealed class ChatRecordStartup(IChatRecord record, IConfiguration configuration, ILogger<ChatRecordStartup> logger) : IHostedLifecycleService
{
    /// <summary>The error of a reply whose node stopped while it ran.</summary>
    public const string InterruptedError = "the server handling this reply stopped";

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        StorageLog.Using(logger, record.Description);
        foreach (var version in await record.MigrateAsync(cancellationToken))
        {
            StorageLog.Migrated(logger, record.Description, version);
        }

        // With several nodes (Redis) another node may be running these replies; alone, nothing is.
        if (!configuration.IsRedisConfigured())
        {
            int failed;
            try
            {
                failed = await record.FailInterruptedAsync(InterruptedError, cancellationToken);
            }
            catch (Exception ex) when (ex is not ChatRecordUnavailableException and not OperationCanceledException)
            {
                throw new ChatRecordUnavailableException($"{record.Description} could not be read: {ex.Message}", ex);
            }

            if (failed > 0)
            {
                StorageLog.FailedInterrupted(logger, record.Description, failed);
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
