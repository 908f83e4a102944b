using System.Text.Json;

namespace SignalRChat.Server.Tools;

/// <summary>A tool the assistant may call. Arguments arrive parsed and whole, never as fragments.</summary>
public abstract class ChatTool
{
    public abstract string Name { get; }

    public abstract string Description { get; }

    /// <summary>JSON schema of the arguments object.</summary>
    public abstract JsonElement ParametersSchema { get; }

    /// <summary>Runs the tool. Throw <see cref="ToolException"/> for errors the model and the user should read.</summary>
    public abstract Task<string> RunAsync(ToolArguments arguments, IToolProgress progress, CancellationToken cancellationToken);

    protected static JsonElement Schema(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

/// <summary>A tool failure caused by its input (a bad expression, a division by zero): told to the model and shown to the room.</summary>
public sealed class ToolException(string message) : Exception(message);

/// <summary>How a running tool reports how far it has got.</summary>
public interface IToolProgress
{
    /// <summary>Reports <paramref name="fraction"/> (0 to 1) done, with a short detail.</summary>
    ValueTask ReportAsync(double fraction, string? detail, CancellationToken cancellationToken = default);
}

/// <summary>A tool call's arguments, whatever form the model sent them in.</summary>
public sealed class ToolArguments(IReadOnlyDictionary<string, object?> values)
{
    public string RequireString(string name)
    {
        if (!values.TryGetValue(name, out var value) || value is null)
        {
            throw new ToolException($"missing argument '{name}'");
        }

        return value switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
            JsonElement e => throw new ToolException($"argument '{name}' must be a string, not {e.ValueKind.ToString().ToLowerInvariant()}"),
            _ => throw new ToolException($"argument '{name}' must be a string"),
        };
    }

    public string? OptionalString(string name) => values.ContainsKey(name) && values[name] is not null ? RequireString(name) : null;
}
