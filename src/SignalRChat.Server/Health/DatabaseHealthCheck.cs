using Microsoft.Extensions.Diagnostics.HealthChecks;
using SignalRChat.Server.Storage;

namespace SignalRChat.Server.Health;

/// <summary>
/// The record's writes are keeping up: a database that fails makes the node not ready, one that is
/// behind is named as degraded. Read from the writer, so a probe never waits on the database itself.
/// </summary>
internal sealed class DatabaseHealthCheck(ChatRecordWriter writer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = writer.Health;
        var data = new Dictionary<string, object> { ["waiting"] = health.Waiting, ["oldestWaitingMs"] = (long)health.OldestWaiting.TotalMilliseconds };
        if (health.IsDown)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"{health.Record} is down for {health.FailingFor.TotalSeconds:0} s ({health.Failure}); {health.Waiting} writes waiting", data: data));
        }

        if (health.IsBehind)
        {
            return Task.FromResult(HealthCheckResult.Degraded(
                $"{health.Record} is behind: {health.Waiting} writes waiting, the oldest for {health.OldestWaiting.TotalSeconds:0.0} s", data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy($"{health.Record}: {health.Waiting} writes waiting", data));
    }
}
