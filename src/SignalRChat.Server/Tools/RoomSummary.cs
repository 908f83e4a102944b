using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;

namespace SignalRChat.Server.Tools;

/// <summary>The fixed shape of a room summary, and the one place its JSON is checked.</summary>
public sealed record RoomSummary(
    [property: JsonPropertyName("topic")] string Topic,
    [property: JsonPropertyName("participants")] IReadOnlyList<string> Participants,
    [property: JsonPropertyName("keyPoints")] IReadOnlyList<string> KeyPoints,
    [property: JsonPropertyName("openQuestions")] IReadOnlyList<string> OpenQuestions)
{
    public const string SchemaName = "room_summary";

    private static readonly string[] Properties = ["topic", "participants", "keyPoints", "openQuestions"];

    public static JsonElement Schema { get; } = Parse("""
        {"type":"object","properties":{
          "topic":{"type":"string","description":"What the room is talking about, in one short sentence."},
          "participants":{"type":"array","items":{"type":"string"},"description":"Names of the people who wrote in the room."},
          "keyPoints":{"type":"array","items":{"type":"string"},"description":"The main points made, briefly."},
          "openQuestions":{"type":"array","items":{"type":"string"},"description":"Questions still unanswered."}},
         "required":["topic","participants","keyPoints","openQuestions"],"additionalProperties":false}
        """);

    /// <summary>Asks the model for JSON of exactly this schema (structured output where the server supports it).</summary>
    public static ChatResponseFormat Format { get; } = ChatResponseFormat.ForJsonSchema(Schema, SchemaName, "A structured summary of a chat room.");

    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Checks the model's whole answer; <paramref name="reason"/> says what is wrong when it is not a summary.</summary>
    public static bool TryParse(string text, out RoomSummary? summary, out string reason)
    {
        summary = null;
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(StripCodeFence(text));
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            reason = text.Trim().Length == 0 ? "the answer was empty" : "the answer was not valid JSON";
            return false;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            reason = "the answer was not a JSON object";
            return false;
        }

        foreach (var property in root.EnumerateObject())
        {
            if (!Properties.Contains(property.Name))
            {
                reason = $"unexpected property '{property.Name}'";
                return false;
            }
        }

        if (!root.TryGetProperty("topic", out var topic) || topic.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(topic.GetString()))
        {
            reason = "'topic' must be a non-empty string";
            return false;
        }

        var lists = new List<IReadOnlyList<string>>();
        foreach (var name in Properties.Skip(1))
        {
            if (!root.TryGetProperty(name, out var list) || list.ValueKind != JsonValueKind.Array || list.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            {
                reason = $"'{name}' must be an array of strings";
                return false;
            }

            lists.Add(list.EnumerateArray().Select(e => e.GetString()!).ToList());
        }

        summary = new RoomSummary(topic.GetString()!, lists[0], lists[1], lists[2]);
        reason = string.Empty;
        return true;
    }

    // Some local models wrap JSON in a Markdown fence even when asked not to; the content is still judged whole.
    private static string StripCodeFence(string text)
    {
        var trimmed = text.Trim();
        if (!trimmed.StartsWith("```", StringComparison.Ordinal) || !trimmed.EndsWith("```", StringComparison.Ordinal) || trimmed.Length < 6)
        {
            return trimmed;
        }

        var firstLineEnd = trimmed.IndexOf('\n');
        return firstLineEnd < 0 ? trimmed : trimmed[(firstLineEnd + 1)..^3];
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
