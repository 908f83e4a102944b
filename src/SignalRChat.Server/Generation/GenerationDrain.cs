using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Generation;

/// <summary>Settings of section <c>Chat:Generation</c>.</summary>
public sealed class GenerationOptions
{
    public const string Section = "Chat:Generation";

    /// <summary>On shutdown (SIGTERM), how long running replies may go on before they are stopped.</summary>
    public TimeSpan DrainTime { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// On shutdown: no new generations; running ones finish within the drain time, the rest stop with
/// a clear status. The drain starts as soon as shutdown is asked for, alongside the web server's
/// own shutdown, and the host waits for it.
/// </summary>
internal sealed class GenerationDrain(GenerationHost host, IHostApplicationLifetime lifetime, IOptions<GenerationOptions> options, ILogger<GenerationDrain> logger)
    : IHostedService
{
    private Task? _drain;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => _drain ??= DrainAsync());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => (_drain ??= DrainAsync()).WaitAsync(cancellationToken);

    private Task DrainAsync()
    {
        GenerationLog.Draining(logger, options.Value.DrainTime.TotalSeconds);
        return host.DrainAsync(options.Value.DrainTime, CancellationToken.None);
    }
}
