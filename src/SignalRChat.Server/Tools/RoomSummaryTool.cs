using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using SignalRChat.Server.Limits;
using SignalRChat.Server.Model;
using SignalRChat.Server.Rooms;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace SignalRChat.Server.Tools;

/// <summary>
/// Asks the model, without tools, for a <see cref="RoomSummary"/> of the room's conversation. The
/// streamed answer is only collected while it arrives (partial JSON is never parsed), then judged
/// whole; an invalid answer gets one more try with the reason, and the tool fails after that.
/// </summary>
internal sealed class RoomSummaryTool(IRoomStore store, IChatClient chatClient, IOptions<ModelOptions> modelOptions) : ChatTool
{
    public const string ToolName = "room_summary";

    public const string Instructions =
        "You summarize a chat room. The user message is the room's conversation, each message as 'name: text' with its further lines indented by two spaces. " +
        "Answer with only a JSON object with the properties topic (string), participants (array of names), " +
        "keyPoints (array of strings) and openQuestions (array of strings), and nothing else.";

    private static readonly JsonElement ParametersJson = Schema("""{"type":"object","properties":{},"additionalProperties":false}""");

    public override string Name => ToolName;

    public override string Description => "Summarizes the conversation in this chat room: topic, participants, key points and open questions, as JSON.";

    public override JsonElement ParametersSchema => ParametersJson;

    public override async Task<string> RunAsync(ToolArguments arguments, IToolProgress progress, CancellationToken cancellationToken)
    {
        var roomId = ToolEventScope.Current?.RoomId;
        if (string.IsNullOrEmpty(roomId))
        {
            throw new ToolException("room_summary works only inside a room's reply");
        }

        var settings = modelOptions.Value;
        var history = await store.GetHistoryAsync(roomId, settings.MaxHistoryMessages, cancellationToken);
        var messages = PromptHistory.Newest(history.Where(PromptHistory.IsConversation).ToList(), settings.MaxHistoryTokens - PromptHistory.EstimateTokens(Instructions));
        if (messages.Count == 0)
        {
            throw new ToolException("the room has no messages to summarize");
        }

        await progress.ReportAsync(0.05, $"reading {messages.Count} messages", cancellationToken);
        var transcript = string.Join('\n', messages.Select(PromptHistory.Render));
        List<AiChatMessage> prompt = [new(ChatRole.System, Instructions), new(ChatRole.User, transcript)];
        var options = new ChatOptions { ResponseFormat = RoomSummary.Format };

        var reason = string.Empty;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var answer = await CollectAsync(prompt, options, progress, attempt, transcript.Length, cancellationToken);
            if (RoomSummary.TryParse(answer, out var summary, out reason))
            {
                await progress.ReportAsync(0.95, "checked the summary", cancellationToken);
                return summary!.ToJson();
            }

            await progress.ReportAsync(0.5, $"the summary was not valid ({reason}); asking again", cancellationToken);
            prompt.Add(new AiChatMessage(ChatRole.Assistant, answer));
            prompt.Add(new AiChatMessage(ChatRole.User, $"That answer cannot be used: {reason}. Answer again with only the JSON object described."));
        }

        throw new ToolException($"the model gave no valid summary in two tries ({reason})");
    }

    // Reports progress in tenths while the answer streams in, so a long summary shows that it is moving.
    private async Task<string> CollectAsync(List<AiChatMessage> prompt, ChatOptions options, IToolProgress progress, int attempt, int transcriptChars,
        CancellationToken cancellationToken)
    {
        var expectedChars = Math.Clamp(transcriptChars / 2, 200, 4000);
        var (from, to) = attempt == 1 ? (0.1, 0.5) : (0.55, 0.9);
        var answer = new StringBuilder();
        var reportedStep = -1;
        long reported = 0;
        try
        {
            await foreach (var update in chatClient.GetStreamingResponseAsync(prompt, options, cancellationToken))
            {
                reported += update.Contents.OfType<UsageContent>().Sum(u => (u.Details.InputTokenCount ?? 0) + (u.Details.OutputTokenCount ?? 0));
                answer.Append(update.Text);
                var step = (int)(10 * Math.Min(1.0, answer.Length / (double)expectedChars));
                if (step > reportedStep)
                {
                    reportedStep = step;
                    await progress.ReportAsync(from + (to - from) * step / 10, $"writing the summary ({answer.Length} characters)", cancellationToken);
                }
            }
        }
        finally
        {
            // The reply that called this tool pays for the model call too: as reported, else estimated.
            ReplyCost.Current?.AddToolTokens(reported > 0
                ? reported
                : prompt.Sum(m => (long)PromptHistory.EstimateTokens(m.Text)) + PromptHistory.EstimateTokens(answer.ToString()));
        }

        return answer.ToString();
    }
}
