using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Generation;

/// <summary>Settings of section <c>Chat:Generation</c>.</summary>
public sealed class GenerationOptions
{
    public const string Section = "Chat:Generation";

    /// <summary>On shutdown (SIGTERM), how long running replies may go on before they are stopped.</summary>
    public TimeSpan DrainTime { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>On shutdown: no new generations; running ones finish within the drain time, the rest stop with a clear status.</summary>
internal sealed class GenerationDrain(IGenerationQueue queue, IOptions<GenerationOptions> options, ILogger<GenerationDrain> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        GenerationLog.Draining(logger, options.Value.DrainTime.TotalSeconds);
        await queue.DrainAsync(options.Value.DrainTime, cancellationToken);
    }
}
