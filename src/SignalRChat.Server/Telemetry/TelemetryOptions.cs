namespace SignalRChat.Server.Telemetry;

/// <summary>Settings of section <c>Chat:Telemetry</c>.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Chat:Telemetry";

    /// <summary>
    /// OTLP collector address (e.g. <c>http://127.0.0.1:4317</c>). The standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
    /// environment variable does the same; either one turns the OTLP exporter on.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Writes metrics and spans to the console; honoured in Development only.</summary>
    public bool Console { get; set; }

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public string ServiceName { get; set; } = "signalrchat";
}
