using Microsoft.AspNetCore.SignalR;
using SignalRChat.Client;
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
        await using var scene = await TwoNodes.StartAsync(redis, "frozen", replyTokens: 700);
        var (nodeB, bob, aliceLog, reply) = (scene.NodeB, scene.Bob, scene.AliceLog, scene.Reply);
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

        var (aliceFinal, snapshot) = await scene.AssertEveryoneEndsWithTheWholeReplyAsync();
        Assert.Equal(aliceFinal.Seq, snapshot.LastSeq - 1);
    }

    [Fact]
    public async Task Redis_killed_and_restarted_mid_reply_everyone_ends_with_the_whole_text_and_the_room_goes_on()
    {
        await using var redis = await RedisServer.StartAsync(persistent: true);
        await using var scene = await TwoNodes.StartAsync(redis, "restarted", replyTokens: 500);
        var (aliceLog, bob, reply) = (scene.AliceLog, scene.Bob, scene.Reply);
        await redis.RestartAsync(whileDown: async () =>
        {
            // While Redis is gone, Alice, on the node running the reply, keeps receiving.
            var before = aliceLog.TokenCount();
            await aliceLog.WaitForTokensAsync(reply.GenerationId, before + 100, TimeSpan.FromSeconds(15));
        });

        // The history is complete, and the room takes the next message on either node.
        await scene.AssertEveryoneEndsWithTheWholeReplyAsync();
        var next = await bob.AskAsync("restarted", "and one more");
        Assert.Equal(GenerationStates.Completed, (await aliceLog.WaitForFinalAsync(next.GenerationId, TimeSpan.FromSeconds(30))).State);
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

/// <summary>Two nodes on one Redis; Alice on node A asks for a long reply in a room, Bob on node B has seen its first deltas.</summary>
internal sealed class TwoNodes : IAsyncDisposable
{
    private ChatServer _nodeA = null!;
    private long _bobFrom;

    public ChatServer NodeB { get; private set; } = null!;

    public string Room { get; private set; } = null!;

    public ChatClient Alice { get; private set; } = null!;

    public ChatClient Bob { get; private set; } = null!;

    public EventLog AliceLog { get; private set; } = null!;

    public EventLog BobLog { get; private set; } = null!;

    public ChatReply Reply { get; private set; } = null!;

    public static async Task<TwoNodes> StartAsync(RedisServer redis, string room, int replyTokens)
    {
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = replyTokens.ToString() };
        var scene = new TwoNodes { Room = room, _nodeA = await ChatServer.StartAsync(settings) };
        scene.NodeB = await ChatServer.StartAsync(settings);
        scene.Alice = await scene._nodeA.ConnectAsync("alice");
        scene.Bob = await scene.NodeB.ConnectAsync("bob");
        scene.AliceLog = new EventLog(scene.Alice);
        scene.BobLog = new EventLog(scene.Bob);
        await scene.Alice.JoinRoomAsync(room);
        scene._bobFrom = (await scene.Bob.JoinRoomAsync(room)).LastSeq;
        scene.Reply = await scene.Alice.AskAsync(room, "a long reply while Redis has trouble");
        await scene.BobLog.WaitForTokensAsync(scene.Reply.GenerationId, 20);
        return scene;
    }

    /// <summary>Both members end with the same completed reply, Bob's view has no gap, and the history (read on node B) holds it whole.</summary>
    public async Task<(StatusEvent Final, RoomSnapshot History)> AssertEveryoneEndsWithTheWholeReplyAsync()
    {
        StatusEvent aliceFinal, bobFinal;
        try
        {
            aliceFinal = await AliceLog.WaitForFinalAsync(Reply.GenerationId, TimeSpan.FromSeconds(30));
            bobFinal = await BobLog.WaitForFinalAsync(Reply.GenerationId, TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"no final status: alice {Describe(AliceLog)}; bob {Describe(BobLog)}\nnode A: {RedisLines(_nodeA)}\nnode B: {RedisLines(NodeB)}");
            throw;
        }

        Assert.Equal(GenerationStates.Completed, aliceFinal.State);
        Assert.Equal(aliceFinal.Seq, bobFinal.Seq);
        Assert.Equal(aliceFinal.Text, bobFinal.Text);
        Assert.Equal(aliceFinal.Text, BobLog.TextOf(Reply.GenerationId));
        StreamingTests.AssertContiguous(BobLog.Events, _bobFrom);

        var carol = await NodeB.ConnectAsync("carol");
        var history = await carol.JoinRoomAsync(Room);
        var kept = history.Messages.Single(m => m.MessageId == aliceFinal.MessageId);
        Assert.Equal(MessageStates.Completed, kept.State);
        Assert.Equal(aliceFinal.Text, kept.Text);
        return (aliceFinal, history);
    }

    public async ValueTask DisposeAsync()
    {
        await NodeB.DisposeAsync();
        await _nodeA.DisposeAsync();
    }

    private static string RedisLines(ChatServer node) =>
        string.Join("\n", node.Logs.Lines.Where(l => l.Contains("Redis", StringComparison.OrdinalIgnoreCase)).TakeLast(15));

    private static string Describe(EventLog log)
    {
        var events = log.Events;
        var seqs = events.Select(e => e.Seq).ToList();
        var gaps = seqs.Zip(seqs.Skip(1)).Where(p => p.Second != p.First + 1).Select(p => $"{p.First}->{p.Second}");
        return $"{events.Count} events, seq {seqs.FirstOrDefault()}..{seqs.LastOrDefault()}, gaps [{string.Join(", ", gaps.Take(10))}], last {events.LastOrDefault()}";
    }
}
