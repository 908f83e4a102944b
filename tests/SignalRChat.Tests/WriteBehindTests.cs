using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// The write-behind (README, "Redis"): a node cut off from Redis keeps its reply going for its own
/// members under provisional seqs, and writes it once Redis answers again, even when another node
/// wrote to the room meanwhile.
/// </summary>
public sealed class WriteBehindTests
{
    [Fact]
    public async Task A_node_cut_off_from_Redis_holds_its_reply_back_while_another_node_writes_and_the_room_ends_whole_and_in_order()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = new FreezableProxy(redis.Port);
        var shared = new Dictionary<string, string?>(redis.NodeSettings())
        {
            // Long enough that node B does not give node A's reply up while A is cut off.
            ["Chat:Redis:Lease"] = "00:00:30",
            ["Chat:Offline:TokenDelayMs"] = "10",
            ["Chat:Offline:ReplyTokens"] = "600",
        };
        var cutOff = new Dictionary<string, string?>(shared) { ["ConnectionStrings:Redis"] = $"127.0.0.1:{proxy.Port}" };
        await using var nodeA = await ChatServer.StartAsync(cutOff);
        await using var nodeB = await ChatServer.StartAsync(shared);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("partition");
        var bobFrom = (await bob.JoinRoomAsync("partition")).LastSeq;
        var reply = await alice.AskAsync("partition", "a long reply while my node loses Redis");
        await bobLog.WaitForTokensAsync(reply.GenerationId, 20);

        proxy.Freeze();
        SendMessageResult meanwhile;
        try
        {
            // Alice, on the cut-off node, keeps receiving; Bob's node still reaches Redis and writes to the room.
            var before = aliceLog.TokenCount(reply.GenerationId);
            await aliceLog.WaitForTokensAsync(reply.GenerationId, before + 100, TimeSpan.FromSeconds(20));
            meanwhile = await bob.SendMessageAsync("partition", "meanwhile, on the other node");
        }
        finally
        {
            proxy.Thaw();
        }

        // Everyone ends with the same completed reply; Bob's view has every event once, in order.
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));
        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));
        Assert.Equal(GenerationStates.Completed, bobFinal.State);
        Assert.Equal(bobFinal.Text, aliceFinal.Text);
        Assert.Equal(bobFinal.Text, bobLog.TextOf(reply.GenerationId));
        Assert.Equal(GenerationStates.Completed, (await bobLog.WaitForFinalAsync(meanwhile.GenerationId!, TimeSpan.FromSeconds(60))).State);
        StreamingTests.AssertContiguous(bobLog.Events, bobFrom);

        // The room's record holds Bob's message once and the whole reply; node A took the next seqs for what it held back.
        var carol = await nodeB.ConnectAsync("carol");
        var history = await carol.JoinRoomAsync("partition");
        Assert.Single(history.Messages, m => m.MessageId == meanwhile.MessageId);
        var kept = history.Messages.Single(m => m.MessageId == bobFinal.MessageId);
        Assert.Equal((MessageStates.Completed, bobFinal.Text), (kept.State, kept.Text));
        Assert.Contains(nodeA.Logs.Lines, line => line.Contains("was written as", StringComparison.Ordinal));

        // Alice's node handed her the held-back events under provisional seqs, so Bob's message, written
        // meanwhile under one of them, did not reach her live (README, "Redis"); joining again gives her the room as it is.
        var again = await alice.JoinRoomAsync("partition");
        Assert.Single(again.Messages, m => m.MessageId == meanwhile.MessageId);
        Assert.Equal(history.LastSeq, again.LastSeq);
    }
}
