using SignalRChat.Contracts;

namespace SignalRChat.Server.Model;

/// <summary>Chooses the room messages a model sees: the newest ones that fit a token budget.</summary>
internal static class PromptHistory
{
    // Roughly what a chat API adds around each message (role, separators).
    private const int PerMessageTokens = 4;

    /// <summary>A cheap estimate (about four characters a token) that needs no tokenizer of any one model.</summary>
    public static int EstimateTokens(string text) => EstimateTokens(text.Length);

    private static int EstimateTokens(int length) => (length + 3) / 4 + PerMessageTokens;

    /// <summary>The length of <see cref="Render"/>'s text, without building it: a reply's history is read for every reply.</summary>
    public static int RenderedLength(ChatMessage message) =>
        message.AuthorName.Length + 2 + message.Text.Length + message.Text.AsSpan().Count('\n') * ContinuationIndent.Length;

    /// <summary>Messages that can be shown to a model: users' messages and assistant replies with text.</summary>
    public static bool IsConversation(ChatMessage message) =>
        message.Role == MessageRoles.User
        || message.Role == MessageRoles.Assistant && message.State is MessageStates.Completed or MessageStates.Cancelled && message.Text.Length > 0;

    /// <summary>
    /// Who said what, as the model reads it: several people share a room. A message's further lines are
    /// indented, so only the first line of a message starts with a name: a line "bob: …" typed by alice
    /// reads as part of alice's message, never as bob speaking.
    /// </summary>
    public static string Render(ChatMessage message) => $"{message.AuthorName}: {message.Text.Replace("\n", "\n" + ContinuationIndent, StringComparison.Ordinal)}";

    /// <summary>What starts every further line of a rendered message.</summary>
    public const string ContinuationIndent = "  ";

    /// <summary>The newest messages whose estimate fits <paramref name="budgetTokens"/>, oldest first; the newest is always kept.</summary>
    public static List<ChatMessage> Newest(IReadOnlyList<ChatMessage> messages, int budgetTokens)
    {
        var chosen = new List<ChatMessage>();
        var used = 0;
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            var cost = EstimateTokens(RenderedLength(messages[i]));
            if (chosen.Count > 0 && used + cost > budgetTokens)
            {
                break;
            }

            used += cost;
            chosen.Add(messages[i]);
        }

        chosen.Reverse();
        return chosen;
    }
}
