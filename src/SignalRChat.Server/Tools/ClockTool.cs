using System.Globalization;
using System.Text.Json;

namespace SignalRChat.Server.Tools;

/// <summary>Tells the current time in UTC, or in a named time zone.</summary>
public sealed class ClockTool(TimeProvider time) : ChatTool
{
    private static readonly JsonElement ParametersJson = Schema("""
        {"type":"object","properties":{"timeZone":{"type":"string","description":"An IANA time zone such as Europe/Paris; UTC when left out."}},"additionalProperties":false}
        """);

    public const string ToolName = "clock";

    public override string Name => ToolName;

    public override string Description => "Returns the current date and time (ISO-8601), in UTC or in the given IANA time zone.";

    public override JsonElement ParametersSchema => ParametersJson;

    public override async Task<string> RunAsync(ToolArguments arguments, IToolProgress progress, CancellationToken cancellationToken)
    {
        var zoneId = arguments.OptionalString("timeZone");
        await progress.ReportAsync(0.5, "reading the clock", cancellationToken);
        var now = time.GetUtcNow();
        if (string.IsNullOrWhiteSpace(zoneId) || zoneId is "UTC" or "utc")
        {
            return now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(zoneId, out var zone))
        {
            throw new ToolException($"unknown time zone '{zoneId}'");
        }

        return TimeZoneInfo.ConvertTime(now, zone).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
    }
}
