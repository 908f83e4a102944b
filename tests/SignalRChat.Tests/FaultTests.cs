using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Redis pauses or restarts mid-reply: the reply goes on, nothing is lost, nobody hangs.</summary>
public sealed class FaultTests
{
    [Fact]
    public async Task Redis_frozen_mid_reply_the_reply_goes_on_for_local_members_and_everyone_ends_with_the_whole_text()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "700" };
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("frozen");
        var bobSnapshot = await bob.JoinRoomAsync("frozen");

        var reply = await alice.AskAsync("frozen", "a long reply while Redis freezes");
        await bobLog.WaitForTokensAsync(reply.GenerationId, 20);
        redis.Pause();
        try
        {
            // Alice, on the node running the reply, keeps receiving while Redis answers nothing.
            var before = aliceLog.TokenCount();
            await aliceLog.WaitForTokensAsync(reply.GenerationId, before + 300, TimeSpan.FromSeconds(15));

            // A call that needs Redis gets a clear error instead of hanging.
            var error = await Assert.ThrowsAsync<HubException>(() => bob.JoinRoomAsync("elsewhere")).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(error.Message.Contains("temporarily unavailable"), error.Message + "\n" + string.Join("\n", nodeB.Logs.Lines.Where(l => l.Contains("Exception")).TakeLast(3)));
        }
        finally
        {
            redis.Continue();
        }

        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(30));
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(30));
        Assert.Equal(GenerationStates.Completed, aliceFinal.State);
        Assert.Equal(aliceFinal.Seq, bobFinal.Seq);
        Assert.Equal(aliceFinal.Text, bobFinal.Text);
        Assert.Equal(aliceFinal.Text, bobLog.TextOf(reply.GenerationId));
        StreamingTests.AssertContiguous(bobLog.Events, bobSnapshot.LastSeq);

        // The history is complete, as seen from either node.
        var carol = await nodeB.ConnectAsync("carol");
        var snapshot = await carol.JoinRoomAsync("frozen");
        var kept = snapshot.Messages.Single(m => m.MessageId == aliceFinal.MessageId);
        Assert.Equal(MessageStates.Completed, kept.State);
        Assert.Equal(aliceFinal.Text, kept.Text);
        Assert.Equal(aliceFinal.Seq, snapshot.LastSeq - 1);
    }

    [Fact]
    public async Task Redis_killed_and_restarted_mid_reply_everyone_ends_with_the_whole_text_and_the_room_goes_on()
    {
        await using var redis = await RedisServer.StartAsync(persistent: true);
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "500" };
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("restarted");
        var bobSnapshot = await bob.JoinRoomAsync("restarted");

        var reply = await alice.AskAsync("restarted", "a long reply while Redis restarts");
        await bobLog.WaitForTokensAsync(reply.GenerationId, 20);
        await redis.RestartAsync(whileDown: async () =>
        {
            // While Redis is gone, Alice, on the node running the reply, keeps receiving.
            var before = aliceLog.TokenCount();
            await aliceLog.WaitForTokensAsync(reply.GenerationId, before + 100, TimeSpan.FromSeconds(15));
        });

        string Diagnose() => $"alice: {Describe(aliceLog)}\nbob: {Describe(bobLog)}\nA:\n{string.Join("\n", nodeA.Logs.Lines.Where(l => l.Contains("Redis", StringComparison.OrdinalIgnoreCase)).TakeLast(15))}\nB:\n{string.Join("\n", nodeB.Logs.Lines.Where(l => l.Contains("Redis", StringComparison.OrdinalIgnoreCase)).TakeLast(15))}";
        StatusEvent aliceFinal, bobFinal;
        try
        {
            aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(30));
            bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            Assert.Fail(Diagnose());
            throw;
        }

        Assert.Equal(GenerationStates.Completed, aliceFinal.State);
        Assert.Equal(aliceFinal.Seq, bobFinal.Seq);
        Assert.Equal(aliceFinal.Text, bobFinal.Text);
        Assert.Equal(aliceFinal.Text, bobLog.TextOf(reply.GenerationId));
        StreamingTests.AssertContiguous(bobLog.Events, bobSnapshot.LastSeq);

        // The history is complete, and the room takes the next message on either node.
        var carol = await nodeB.ConnectAsync("carol");
        var snapshot = await carol.JoinRoomAsync("restarted");
        var kept = snapshot.Messages.Single(m => m.MessageId == aliceFinal.MessageId);
        Assert.Equal(MessageStates.Completed, kept.State);
        Assert.Equal(aliceFinal.Text, kept.Text);
        var next = await bob.AskAsync("restarted", "and one more");
        Assert.Equal(GenerationStates.Completed, (await aliceLog.WaitForFinalAsync(next.GenerationId, TimeSpan.FromSeconds(30))).State);
    }

    private static string Describe(EventLog log)
    {
        var events = log.Events;
        var seqs = events.Select(e => e.Seq).ToList();
        var gaps = seqs.Zip(seqs.Skip(1)).Where(p => p.Second != p.First + 1).Select(p => $"{p.First}->{p.Second}");
        return $"{events.Count} events, seq {seqs.FirstOrDefault()}..{seqs.LastOrDefault()}, gaps [{string.Join(", ", gaps.Take(10))}], last {events.LastOrDefault()}";
    }

    [Fact]
    public async Task A_member_that_stops_reading_does_not_slow_the_room_and_the_node_stays_healthy()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Offline:TokenDelayMs"] = "2", ["Chat:Offline:ReplyTokens"] = "1500" });
        var alice = await server.ConnectAsync("alice");
        var carol = await server.ConnectAsync("carol");
        var carolLog = new EventLog(carol);
        await alice.JoinRoomAsync("steady");
        await carol.JoinRoomAsync("steady");

        async Task<TimeSpan> CarolWaitsForAReplyAsync()
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var reply = await alice.AskAsync("steady", "a long reply");
            await carolLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));
            return clock.Elapsed;
        }

        var alone = await CarolWaitsForAReplyAsync();

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var bob = await ResumeTests.StalledReaderAsync(server, "bob", gate.Task);
        var bobLog = new EventLog(bob);
        await bob.JoinRoomAsync("steady");
        var withStalledReader = await CarolWaitsForAReplyAsync();

        // The room's pace is the model's, whoever stops reading (1.5x leaves room for a busy machine).
        Assert.True(withStalledReader <= alone * 1.5, $"{withStalledReader.TotalMilliseconds:F0} ms with a stalled reader against {alone.TotalMilliseconds:F0} ms without");
        using var http = server.CreateHttpClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);

        // Once it reads again, the stalled member ends with the whole reply.
        gate.SetResult();
        var last = carolLog.Events.OfType<StatusEvent>().Last(s => s.IsFinal);
        Assert.Equal(last.Text, (await bobLog.WaitForFinalAsync(last.GenerationId, TimeSpan.FromSeconds(60))).Text);
    }
}
