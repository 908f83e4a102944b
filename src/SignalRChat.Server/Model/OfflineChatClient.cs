using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Model;

/// <summary>
/// The model used when no provider is configured: a real <see cref="IChatClient"/> that streams a
/// deterministic reply, says that it is the offline model, and calls tools through the ordinary
/// tool-calling path ("calculate 17*23", "what time is it", "summarize the room"). Asked for a
/// room summary as JSON, it streams one built from the transcript. It needs no network.
/// A message containing <c>#fail</c> makes it fail part-way, so failure handling can be seen too.
/// </summary>
public sealed partial class OfflineChatClient(IOptions<OfflineModelOptions> offlineOptions, TimeProvider time) : IChatClient
{
    public const string FailTrigger = "#fail";
    public const string Intro = "This is the offline model (no network), ";

    private static readonly string[] Filler =
        ["streaming ", "a ", "deterministic ", "reply ", "so ", "that ", "every ", "member ", "of ", "the ", "room ", "sees ", "the ", "same ", "words ", "in ", "the ", "same ", "order. "];

    private static readonly ChatClientMetadata Metadata = new("offline", null, "offline-deterministic");

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var history = messages as IList<ChatMessage> ?? messages.ToList();
        var last = history.Count > 0 ? history[^1] : null;
        var responseId = "offline-" + Guid.NewGuid().ToString("N")[..12];
        var settings = offlineOptions.Value;
        var inputTokens = history.Sum(m => CountWords(m.Text));

        if (options?.ResponseFormat is ChatResponseFormatJson { SchemaName: Tools.RoomSummary.SchemaName })
        {
            // Small pieces, so the summary arrives as partial JSON like a real model's would.
            var json = SummarizeTranscript(last?.Text ?? string.Empty).ToJson();
            for (var i = 0; i < json.Length; i += 12)
            {
                await DelayAsync(settings.TokenDelayMs, cancellationToken);
                yield return new ChatResponseUpdate(ChatRole.Assistant, json[i..Math.Min(json.Length, i + 12)]) { ResponseId = responseId, ModelId = Metadata.DefaultModelId };
            }

            yield break;
        }

        IEnumerable<string> tokens;
        var toolResult = last?.Contents.OfType<FunctionResultContent>().LastOrDefault();
        if (toolResult is not null)
        {
            tokens = Words(DescribeToolResult(history, toolResult));
        }
        else
        {
            var text = last?.Text ?? string.Empty;
            var call = PlanToolCall(text, options);
            if (call is not null)
            {
                await DelayAsync(settings.TokenDelayMs, cancellationToken);
                yield return new ChatResponseUpdate(ChatRole.Assistant, [call]) { ResponseId = responseId, ModelId = Metadata.DefaultModelId };
                yield break;
            }

            tokens = PlainReply(text, settings.ReplyTokens);
        }

        var index = 0;
        var outputTokens = 0;
        var fail = toolResult is null && (last?.Text ?? string.Empty).Contains(FailTrigger, StringComparison.OrdinalIgnoreCase);
        foreach (var token in tokens)
        {
            await DelayAsync(settings.TokenDelayMs, cancellationToken);
            if (fail && index == 3)
            {
                throw new OfflineModelException("the offline model was asked to fail (#fail) and stopped part-way");
            }

            index++;
            outputTokens++;
            yield return new ChatResponseUpdate(ChatRole.Assistant, token) { ResponseId = responseId, ModelId = Metadata.DefaultModelId };
        }

        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = inputTokens, OutputTokenCount = outputTokens, TotalTokenCount = inputTokens + outputTokens })])
        {
            ResponseId = responseId,
            FinishReason = ChatFinishReason.Stop,
            ModelId = Metadata.DefaultModelId,
        };
    }

    private Task DelayAsync(int milliseconds, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return milliseconds > 0 ? Task.Delay(TimeSpan.FromMilliseconds(milliseconds), time, cancellationToken) : Task.CompletedTask;
    }

    private static FunctionCallContent? PlanToolCall(string text, ChatOptions? options)
    {
        bool Offered(string name) => options?.Tools?.Any(t => t.Name == name) == true;

        var calculation = CalculationPattern().Match(text);
        if (calculation.Success && Offered(Tools.CalculatorTool.ToolName))
        {
            var expression = calculation.Groups["expr"].Value.Trim();
            return new FunctionCallContent(NewCallId(), Tools.CalculatorTool.ToolName, new Dictionary<string, object?> { ["expression"] = expression });
        }

        var topic = TopicPattern().Match(text);
        if (topic.Success && Offered(Tools.SetRoomTopicTool.ToolName))
        {
            return new FunctionCallContent(NewCallId(), Tools.SetRoomTopicTool.ToolName,
                new Dictionary<string, object?> { ["topic"] = topic.Groups["topic"].Value.Trim().Trim('"', '\'', '“', '”').TrimEnd('.', '!') });
        }

        if (SummaryPattern().IsMatch(text) && Offered(Tools.RoomSummaryTool.ToolName))
        {
            return new FunctionCallContent(NewCallId(), Tools.RoomSummaryTool.ToolName, new Dictionary<string, object?>());
        }

        if (ClockPattern().IsMatch(text) && Offered(Tools.ClockTool.ToolName))
        {
            return new FunctionCallContent(NewCallId(), Tools.ClockTool.ToolName, new Dictionary<string, object?>());
        }

        return null;
    }

    private static string DescribeToolResult(IList<ChatMessage> history, FunctionResultContent result)
    {
        var call = history.SelectMany(m => m.Contents).OfType<FunctionCallContent>().LastOrDefault(c => c.CallId == result.CallId);
        var value = result.Result switch
        {
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            null => string.Empty,
            var other => other.ToString(),
        } ?? string.Empty;

        if (value.StartsWith("Tool call invocation", StringComparison.Ordinal) && value.Contains("rejected", StringComparison.Ordinal))
        {
            // The function-invoking layer's answer for a call that a member denied or nobody approved in time.
            return $"{Intro}the room did not approve {call?.Name ?? "the tool"}, so nothing was changed.";
        }

        if (value.StartsWith("error:", StringComparison.Ordinal) || result.Exception is not null)
        {
            var reason = result.Exception?.Message ?? value["error:".Length..].Trim();
            return $"{Intro}the {call?.Name ?? "tool"} could not answer: {reason}.";
        }

        return call?.Name switch
        {
            Tools.CalculatorTool.ToolName => $"{Intro}the calculator says {(call.Arguments is { } args && args.TryGetValue("expression", out var expression) ? expression : "?")} = {value}.",
            Tools.ClockTool.ToolName => $"{Intro}the clock says it is {value}.",
            Tools.SetRoomTopicTool.ToolName => $"{Intro}done: {value}.",
            Tools.RoomSummaryTool.ToolName => DescribeSummary(value),
            _ => $"{Intro}the tool answered {value}.",
        };
    }

    private static string DescribeSummary(string json)
    {
        if (!Tools.RoomSummary.TryParse(json, out var summary, out _))
        {
            return $"{Intro}the room summary could not be read.";
        }

        var who = summary!.Participants.Count == 0 ? "nobody yet" : string.Join(", ", summary.Participants);
        return $"{Intro}here is the room summary. Topic: {summary.Topic}. Participants: {who}. " +
               $"{summary.KeyPoints.Count} key points, {summary.OpenQuestions.Count} open questions.";
    }

    // A deterministic summary of "name: text" lines: first message as the topic, the last three as key points, questions as open.
    private static Tools.RoomSummary SummarizeTranscript(string transcript)
    {
        // An indented line continues the message above it (PromptHistory.Render): it never names a speaker.
        var lines = transcript.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith(PromptHistory.ContinuationIndent, StringComparison.Ordinal))
            .Select(line => line.Trim())
            .Select(line => line.IndexOf(": ", StringComparison.Ordinal) is var colon and > 0 ? (Name: line[..colon], Text: line[(colon + 2)..]) : (Name: string.Empty, Text: line))
            .ToList();
        var people = lines.Where(l => l.Name.Length > 0 && l.Name != Generation.GenerationRunner.AssistantName).Select(l => l.Name).Distinct(StringComparer.Ordinal).ToList();
        var said = lines.Where(l => l.Name != Generation.GenerationRunner.AssistantName).ToList();
        var topic = said.Count == 0 ? "an empty room" : Shorten(said[0].Text);
        return new Tools.RoomSummary(topic, people,
            said.TakeLast(3).Select(l => $"{l.Name} said: {Shorten(l.Text)}").ToList(),
            said.Where(l => l.Text.TrimEnd().EndsWith('?')).Select(l => Shorten(l.Text)).ToList());
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    private static IEnumerable<string> PlainReply(string prompt, int replyTokens)
    {
        var intro = Words(Intro + "replying to a message of " + CountWords(prompt) + " words: ").ToList();
        var count = 0;
        foreach (var word in intro)
        {
            if (count++ >= replyTokens)
            {
                yield break;
            }

            yield return word;
        }

        for (var i = 0; count < replyTokens; i++, count++)
        {
            yield return Filler[i % Filler.Length];
        }
    }

    // Splits after each space so the deltas concatenate back to the exact text.
    private static IEnumerable<string> Words(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ' ')
            {
                yield return text[start..(i + 1)];
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            yield return text[start..];
        }
    }

    private static int CountWords(string? text) => string.IsNullOrWhiteSpace(text) ? 0 : text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    private static string NewCallId() => "call_" + Guid.NewGuid().ToString("N")[..12];

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? Metadata
        : serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }

    [GeneratedRegex(@"\b(?:calculate|compute|calc|what\s+is|what's)\s+(?<expr>[-+*/^%×÷().\d\s]*\d[-+*/^%×÷().\d\s]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CalculationPattern();

    [GeneratedRegex(@"\bset\s+the\s+(?:room'?s\s+)?topic\s+to\s+(?<topic>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex TopicPattern();

    [GeneratedRegex(@"\b(?:summari[sz]e|summary)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SummaryPattern();

    [GeneratedRegex(@"\b(?:what\s+time|the\s+time|clock)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ClockPattern();
}

/// <summary>A failure of the offline model, with a message fit for the room.</summary>
public sealed class OfflineModelException(string message) : Exception(message);
