using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SignalRChat.Server.Model;
using SignalRChat.Server.Model.Providers;
using StackExchange.Redis;

namespace SignalRChat.Server.Health;

/// <summary>Redis answers a PING within the check's timeout; a hung or stopped Redis makes the node not ready.</summary>
internal sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!redis.IsConnected)
        {
            return HealthCheckResult.Unhealthy("Redis is not connected (reconnecting)");
        }

        try
        {
            // The multiplexer's own timeout is longer than a probe may take, so the wait ends here.
            var latency = await redis.GetDatabase().PingAsync().WaitAsync(HealthExtensions.CheckTimeout, cancellationToken);
            return HealthCheckResult.Healthy($"Redis answered PING in {latency.TotalMilliseconds:0} ms");
        }
        catch (TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"Redis did not answer PING within {HealthExtensions.CheckTimeout.TotalSeconds} s");
        }
        catch (RedisException ex)
        {
            return HealthCheckResult.Unhealthy("Redis failed: " + ex.Message);
        }
    }
}

/// <summary>
/// The model provider is usable as configured. The model itself is never called: a probe must not
/// spend tokens or wait on a remote server. The offline model is always ready.
/// </summary>
internal sealed class ModelHealthCheck(IServiceProvider services, IOptions<ModelOptions> model) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var provider = model.Value.Provider;
        try
        {
            // Reading the options validates them (normally already at start); invalid ones throw here.
            var endpoint = provider switch
            {
                ModelProviders.OpenAI => ProviderEndpoints.Describe(services.GetRequiredService<IOptions<OpenAIOptions>>().Value.Endpoint),
                ModelProviders.AzureOpenAI => ProviderEndpoints.Describe(services.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value.Endpoint),
                _ => "offline",
            };
            return Task.FromResult(HealthCheckResult.Healthy($"{provider} ({endpoint})"));
        }
        catch (OptionsValidationException ex)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"{provider}: {string.Join("; ", ex.Failures)}"));
        }
    }
}

/// <summary>A node that is shutting down is no longer ready, so load balancers send new clients elsewhere.</summary>
internal sealed class DrainHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("shutting down: finishing running replies")
            : HealthCheckResult.Healthy("accepting work"));
}
