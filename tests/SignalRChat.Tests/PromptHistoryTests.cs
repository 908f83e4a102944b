using SignalRChat.Contracts;
using SignalRChat.Server.Model;

namespace SignalRChat.Tests;

public sealed class PromptHistoryTests
{
    [Theory]
    [InlineData("alice", "hello")]
    [InlineData("bob", "")]
    [InlineData("carol", "first line\nsecond line\n\nfourth, after an empty one\n")]
    [InlineData("dave", "\n")]
    [InlineData("Émile", "naïve café 🎉\r\nbob: not bob speaking")]
    public void The_rendered_length_the_budget_counts_is_the_length_of_the_text_the_model_reads(string author, string text)
    {
        var message = new ChatMessage("m1", 1, "u1", author, MessageRoles.User, text, MessageStates.Completed, DateTimeOffset.UnixEpoch);

        Assert.Equal(PromptHistory.Render(message).Length, PromptHistory.RenderedLength(message));
    }

    [Fact]
    public void The_newest_messages_that_fit_the_budget_are_chosen_oldest_first_and_the_newest_always()
    {
        var messages = Enumerable.Range(1, 5)
            .Select(i => new ChatMessage($"m{i}", i, "u1", "alice", MessageRoles.User, new string('x', 40 * i) + "\nmore", MessageStates.Completed, DateTimeOffset.UnixEpoch))
            .ToList();
        var cost = messages.Select(m => PromptHistory.EstimateTokens(PromptHistory.Render(m))).ToArray();

        var chosen = PromptHistory.Newest(messages, cost[4] + cost[3]);

        Assert.Equal(["m4", "m5"], chosen.Select(m => m.MessageId));
        Assert.Equal(["m5"], PromptHistory.Newest(messages, 1).Select(m => m.MessageId));
    }
}
