using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace SignalRChat.Server.Telemetry;

internal static class TelemetryExtensions
{
    private const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// The service's metrics and traces, exported with OpenTelemetry when an exporter is configured:
    /// OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>Chat:Telemetry:OtlpEndpoint</c> is set, the console
    /// in Development when <c>Chat:Telemetry:Console</c> is true. Without either nothing is exported (and the
    /// console stays quiet).
    /// </summary>
    public static IHostApplicationBuilder AddChatTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ChatMetrics>();
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section)
            .Validate(o => o.OtlpEndpoint is null || IsHttpUrl(o.OtlpEndpoint), "Chat:Telemetry:OtlpEndpoint must be an absolute http:// or https:// URL, e.g. http://127.0.0.1:4317")
            .Validate(o => !string.IsNullOrWhiteSpace(o.ServiceName), "Chat:Telemetry:ServiceName must not be empty")
            .ValidateOnStart();

        TelemetryOptions settings;
        try
        {
            settings = builder.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        }
        catch (InvalidOperationException ex)
        {
            // The exporters are chosen before the host is built, so a value that does not bind is reported here, as validation would.
            throw new OptionsValidationException(TelemetryOptions.Section, typeof(TelemetryOptions),
                [$"Chat:Telemetry has a value of the wrong type (Console is true or false): {ex.InnerException?.Message ?? ex.Message}"]);
        }

        var otlpEndpoint = string.IsNullOrWhiteSpace(settings.OtlpEndpoint) ? null : settings.OtlpEndpoint;
        var otlp = otlpEndpoint is not null || !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointVariable]);
        var console = settings.Console && builder.Environment.IsDevelopment();
        if (!otlp && !console)
        {
            return builder;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(string.IsNullOrWhiteSpace(settings.ServiceName) ? "signalrchat" : settings.ServiceName))
            .WithMetrics(metrics => metrics
                .AddMeter(ChatMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections")
                .AddAspNetCoreInstrumentation())
            .WithTracing(tracing => tracing
                .AddSource(ChatActivities.SourceName, ChatActivities.HubSourceName)
                .AddAspNetCoreInstrumentation(aspnet => aspnet.Filter = context => !context.Request.Path.StartsWithSegments("/health")));
        if (otlp)
        {
            // An invalid endpoint is reported by option validation at start; here it only must not throw first.
            if (otlpEndpoint is not null && IsHttpUrl(otlpEndpoint))
            {
                telemetry.UseOtlpExporter(OpenTelemetry.Exporter.OtlpExportProtocol.Grpc, new Uri(otlpEndpoint));
            }
            else
            {
                telemetry.UseOtlpExporter();
            }
        }

        if (console)
        {
            telemetry.WithMetrics(metrics => metrics.AddConsoleExporter()).WithTracing(tracing => tracing.AddConsoleExporter());
        }

        return builder;
    }

    private static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
