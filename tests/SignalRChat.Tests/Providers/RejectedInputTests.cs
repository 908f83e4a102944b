using SignalRChat.Contracts;
using SignalRChat.Server.Model;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests.Providers;

/// <summary>A message the model server refuses (HTTP 400) fails its own reply, once, and never the room's later replies.</summary>
public sealed class RejectedInputTests
{
    [Fact]
    public async Task A_refused_message_is_left_out_of_later_prompts_and_the_room_keeps_getting_replies()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.RejectInputContaining = "POISON";
        await using var server = await ChatServer.StartAsync(ProviderTests.OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("poisoned");
        var before = await alice.AskAsync("poisoned", "hello");
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(before.GenerationId)).State);

        // The refused message fails its reply with a reason, after one try without the room's history.
        var poisoned = await alice.AskAsync("poisoned", "POISON");
        var failed = await log.WaitForFinalAsync(poisoned.GenerationId);
        Assert.Equal(GenerationStates.Failed, failed.State);
        Assert.Equal(RejectedInputChatClient.RefusedMessageError, failed.Error);

        // Later replies are written as usual, without it.
        for (var i = 0; i < 2; i++)
        {
            var after = await alice.AskAsync("poisoned", $"still there? {i}");
            var final = await log.WaitForFinalAsync(after.GenerationId);
            Assert.Equal(GenerationStates.Completed, final.State);
            Assert.Equal("Hello from the wire.", final.Text);
            Assert.Null(final.Note);
        }

        var last = wire.Requests[^1].Body.GetProperty("messages").GetRawText();
        Assert.DoesNotContain("POISON", last, StringComparison.Ordinal);
        Assert.Contains("hello", last, StringComparison.Ordinal);

        // The room's history is intact: the refused message is still there for people to read.
        var snapshot = await alice.JoinRoomAsync("poisoned");
        Assert.Contains(snapshot.Messages, m => m.Text == "POISON");
    }

    [Fact]
    public async Task When_the_history_is_refused_the_reply_is_written_without_it_and_says_so()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        await using var server = await ChatServer.StartAsync(ProviderTests.OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("history");
        var first = await alice.AskAsync("history", "an OLD-POISON message the server took then");
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(first.GenerationId)).State);

        // The server now refuses what it took before (a new model, a changed filter).
        wire.RejectInputContaining = "OLD-POISON";
        var next = await alice.AskAsync("history", "a fresh question");
        var final = await log.WaitForFinalAsync(next.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal(RejectedInputChatClient.WithoutHistoryNote, final.Note);
        Assert.Equal("Hello from the wire.", final.Text);
    }
}
