using System.Text.Json;
using Microsoft.Extensions.AI;
using SignalRChat.Server.Model;

namespace SignalRChat.Server.Tools;

/// <summary>Where a running tool's progress goes: the generation that called it.</summary>
internal interface IToolEvents
{
    /// <summary>The room whose reply called the tool.</summary>
    string RoomId { get; }

    ValueTask StartedAsync(string callId, string tool, CancellationToken cancellationToken);

    ValueTask ProgressAsync(string callId, string tool, double fraction, string? detail, CancellationToken cancellationToken);

    ValueTask CompletedAsync(string callId, string tool, string result, CancellationToken cancellationToken);

    ValueTask FailedAsync(string callId, string tool, string error, CancellationToken cancellationToken);
}

/// <summary>The tool events of the generation running in this async flow.</summary>
internal static class ToolEventScope
{
    private static readonly AsyncLocal<IToolEvents?> CurrentEvents = new();

    public static IToolEvents? Current => CurrentEvents.Value;

    public static IDisposable Enter(IToolEvents events)
    {
        var previous = CurrentEvents.Value;
        CurrentEvents.Value = events;
        return new Restore(previous);
    }

    private sealed class Restore(IToolEvents? previous) : IDisposable
    {
        public void Dispose() => CurrentEvents.Value = previous;
    }
}

/// <summary>
/// Presents a <see cref="ChatTool"/> to the model pipeline as an <see cref="AIFunction"/>: validates
/// the whole arguments against the schema, reports started/progress/completed/failed, and answers
/// input errors to the model as a tool error instead of failing the reply.
/// </summary>
internal sealed class ToolFunction(ChatTool tool) : AIFunction
{
    public override string Name => tool.Name;

    public override string Description => tool.Description;

    public override JsonElement JsonSchema => tool.ParametersSchema;

    protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        var events = ToolEventScope.Current ?? NoToolEvents.Instance;
        var callId = FunctionInvokingChatClient.CurrentContext?.CallContent.CallId ?? "call-" + Guid.NewGuid().ToString("N")[..8];
        await events.StartedAsync(callId, Name, cancellationToken);

        // The provider parses the arguments once they are whole; when that failed, the model hears why and may try again.
        if (FunctionInvokingChatClient.CurrentContext?.CallContent.Exception is not null)
        {
            const string malformed = "the arguments were not valid JSON";
            await events.FailedAsync(callId, Name, malformed, cancellationToken);
            return $"error: {malformed}; send them again as one JSON object";
        }

        try
        {
            var values = new Dictionary<string, object?>(arguments, StringComparer.Ordinal);
            ToolArgumentValidator.Validate(tool.ParametersSchema, values);
            var result = await tool.RunAsync(new ToolArguments(values), new Progress(events, callId, Name), cancellationToken);
            await events.CompletedAsync(callId, Name, result, cancellationToken);
            return result;
        }
        catch (ToolException ex)
        {
            await events.FailedAsync(callId, Name, ex.Message, cancellationToken);
            return $"error: {ex.Message}";
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var reason = ex is ModelServerException or ModelOutputException ? ModelErrors.Describe(ex) : "the tool stopped with an internal error";
            await events.FailedAsync(callId, Name, reason, CancellationToken.None);
            throw;
        }
    }

    private sealed class Progress(IToolEvents events, string callId, string tool) : IToolProgress
    {
        public ValueTask ReportAsync(double fraction, string? detail, CancellationToken cancellationToken = default) =>
            events.ProgressAsync(callId, tool, Math.Clamp(fraction, 0, 1), detail, cancellationToken);
    }

    private sealed class NoToolEvents : IToolEvents
    {
        public static readonly NoToolEvents Instance = new();

        public string RoomId => string.Empty;

        public ValueTask StartedAsync(string callId, string tool, CancellationToken cancellationToken) => default;

        public ValueTask ProgressAsync(string callId, string tool, double fraction, string? detail, CancellationToken cancellationToken) => default;

        public ValueTask CompletedAsync(string callId, string tool, string result, CancellationToken cancellationToken) => default;

        public ValueTask FailedAsync(string callId, string tool, string error, CancellationToken cancellationToken) => default;
    }
}

/// <summary>Checks a tool call's complete arguments against the tool's JSON schema (types, required, unknown names).</summary>
internal static class ToolArgumentValidator
{
    public static void Validate(JsonElement schema, IReadOnlyDictionary<string, object?> values)
    {
        var properties = schema.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
        {
            foreach (var name in required.EnumerateArray())
            {
                var key = name.GetString()!;
                if (!values.TryGetValue(key, out var value) || value is null || value is JsonElement { ValueKind: JsonValueKind.Null })
                {
                    throw new ToolException($"missing argument '{key}'");
                }
            }
        }

        var closed = schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.False;
        foreach (var (key, value) in values)
        {
            if (properties.ValueKind != JsonValueKind.Object || !properties.TryGetProperty(key, out var property))
            {
                if (closed)
                {
                    throw new ToolException($"unknown argument '{key}'");
                }

                continue;
            }

            if (value is null || !property.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                continue;
            }

            var expected = type.GetString();
            if (!Matches(expected, value))
            {
                throw new ToolException($"argument '{key}' must be of type {expected}");
            }
        }
    }

    private static bool Matches(string? expected, object value)
    {
        var kind = value switch
        {
            JsonElement e => e.ValueKind,
            string => JsonValueKind.String,
            bool b => b ? JsonValueKind.True : JsonValueKind.False,
            int or long or double or float or decimal => JsonValueKind.Number,
            _ => JsonValueKind.Undefined,
        };
        return expected switch
        {
            "string" => kind == JsonValueKind.String,
            "number" or "integer" => kind == JsonValueKind.Number,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            "object" => kind == JsonValueKind.Object,
            "array" => kind == JsonValueKind.Array,
            _ => true,
        };
    }
}
