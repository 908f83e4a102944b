using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary><c>Chat:Fanout:DeliveryWindow</c>: deltas that arrive within the window go out joined, with the same text, and nothing waits past the end of the reply.</summary>
public sealed class DeliveryWindowTests
{
    [Fact]
    public async Task Deltas_within_the_window_go_out_as_one_event_with_the_same_text_for_every_member()
    {
        // A model with no pause between its 200 deltas, and a window far longer than the whole reply.
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Fanout:DeliveryWindow"] = "00:00:01",
            ["Chat:Offline:TokenDelayMs"] = "0",
            ["Chat:Offline:ReplyTokens"] = "200",
            ["Chat:Generation:DrainTime"] = "00:00:00",
        });
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var aliceSnapshot = await alice.JoinRoomAsync("window");
        await bob.JoinRoomAsync("window");

        var reply = await alice.SendMessageAsync("window", "hello");

        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId!);
        Assert.Equal(GenerationStates.Completed, final.State);
        var tokens = aliceLog.Events.OfType<TokenEvent>().Where(t => t.GenerationId == reply.GenerationId).ToList();
        Assert.InRange(tokens.Count, 1, 2);
        Assert.Equal(final.Text, aliceLog.TextOf(reply.GenerationId!));
        Assert.Equal(final.Text, (await bobLog.WaitForFinalAsync(reply.GenerationId!)).Text);
        Assert.Equal(final.Text, bobLog.TextOf(reply.GenerationId!));
        StreamingTests.AssertContiguous(aliceLog.Events, aliceSnapshot.LastSeq);
    }

    [Fact]
    public async Task Without_a_window_deltas_the_model_yields_back_to_back_reach_the_log_joined_with_the_same_text()
    {
        // No window, and a model with no pause between its 2,000 deltas: each write is handed on while the model yields the next ones.
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Offline:TokenDelayMs"] = "0",
            ["Chat:Offline:ReplyTokens"] = "2000",
            ["Chat:Model:MaxOutputTokens"] = "10000",
        });
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var aliceSnapshot = await alice.JoinRoomAsync("back-to-back");
        var bobSnapshot = await bob.JoinRoomAsync("back-to-back");

        var reply = await alice.SendMessageAsync("back-to-back", "hello");

        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId!);
        Assert.Equal(GenerationStates.Completed, final.State);
        var tokens = aliceLog.Events.OfType<TokenEvent>().Where(t => t.GenerationId == reply.GenerationId).ToList();
        var logged = tokens.Sum(t => t.Seq - (t.FirstSeq ?? t.Seq) + 1);
        Assert.True(logged < 2000, $"the room's log holds {logged} token events for 2,000 deltas: nothing was joined");
        Assert.Equal(final.Text, aliceLog.TextOf(reply.GenerationId!));
        Assert.Equal(final.Text, (await bobLog.WaitForFinalAsync(reply.GenerationId!)).Text);
        Assert.Equal(final.Text, bobLog.TextOf(reply.GenerationId!));
        StreamingTests.AssertContiguous(aliceLog.Events, aliceSnapshot.LastSeq);
        StreamingTests.AssertContiguous(bobLog.Events, bobSnapshot.LastSeq);
    }

    [Fact]
    public async Task A_window_outside_its_range_stops_start_up_and_names_the_key()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Fanout:DeliveryWindow"] = "00:00:02" }));
        Assert.Contains("Chat:Fanout:DeliveryWindow", error.Message);
    }

    [Fact]
    public async Task A_join_gap_outside_its_range_stops_start_up_and_names_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Fanout:JoinGap"] = "00:00:01" }));
        Assert.Contains("Chat:Fanout:JoinGap", error.Message);
    }
}
