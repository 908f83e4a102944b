using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Net.Http.Headers;

namespace SignalRChat.Server.Health;

/// <summary>Plain <c>Healthy</c>/<c>Unhealthy</c> text, as probes expect; the whole report as JSON to a caller that asks for it.</summary>
internal static class HealthReportWriter
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.Headers.CacheControl = "no-store";
        var wantsJson = context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase));
        if (!wantsJson)
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            return context.Response.WriteAsync(report.Status.ToString());
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        var signedIn = context.User.Identity?.IsAuthenticated == true;
        var body = new
        {
            status = report.Status.ToString(),
            totalDurationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            entries = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                // What a check says (the model's endpoint, a Redis error) is for signed-in callers only.
                description = signedIn ? e.Value.Description : null,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, ChatJson.Options));
    }
}
