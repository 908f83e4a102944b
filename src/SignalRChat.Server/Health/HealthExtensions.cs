using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using SignalRChat.Server.Redis;

namespace SignalRChat.Server.Health;

internal static class HealthExtensions
{
    private const string Ready = "ready";

    /// <summary>A readiness check that takes longer than this counts as failed: a hung Redis must not hang the probe.</summary>
    internal static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>Readiness checks: the model provider's settings, not shutting down, the record's writes, and Redis when configured.</summary>
    public static IHostApplicationBuilder AddChatHealth(this IHostApplicationBuilder builder)
    {
        var checks = builder.Services.AddHealthChecks()
            .AddCheck<ModelHealthCheck>("model", HealthStatus.Unhealthy, [Ready], CheckTimeout)
            .AddCheck<DrainHealthCheck>("drain", HealthStatus.Unhealthy, [Ready], CheckTimeout)
            .AddCheck<DatabaseHealthCheck>("database", HealthStatus.Unhealthy, [Ready], CheckTimeout);
        if (builder.Configuration.IsRedisConfigured())
        {
            checks.AddCheck<RedisHealthCheck>("redis", HealthStatus.Unhealthy, [Ready], CheckTimeout);
        }

        return builder;
    }

    /// <summary>
    /// <c>/health/live</c> (and <c>/health</c>, its older name): 200 while the process runs.
    /// <c>/health/ready</c>: 200 <c>Healthy</c> when every readiness check passes, else 503 <c>Unhealthy</c>;
    /// with <c>Accept: application/json</c> the answer is the health report with one entry per check.
    /// </summary>
    public static WebApplication MapChatHealth(this WebApplication app)
    {
        var live = new HealthCheckOptions { Predicate = _ => false };
        app.MapHealthChecks("/health", live);
        app.MapHealthChecks("/health/live", live);
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(Ready),
            ResponseWriter = HealthReportWriter.WriteAsync,
        });
        return app;
    }
}
