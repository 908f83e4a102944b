using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Redis;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;
using SignalRChat.Tests.Infrastructure;
using StackExchange.Redis;

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

    [Fact]
    public async Task A_held_back_event_whose_write_Redis_took_but_whose_answer_was_lost_is_not_written_twice_when_it_is_sent_again()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = new FreezableProxy(redis.Port);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new ChatMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        await using var node = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{proxy.Port},asyncTimeout=2000");
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var store = new RedisRoomStore(node, new RedisScriptInvoker(node, metrics), Options.Create(new RoomOptions()),
            Options.Create(new RedisGenerationOptions()), TimeProvider.System, NullLogger<RedisRoomStore>.Instance);
        const string room = "lost-answers";
        await store.WatchAsync(room);
        // The first calls (each sends its script whole) may be slow on a loaded machine: a refusal is tried again.
        await Settled(async () => await store.EnterAsync(room, new RoomMember("alice", "Alice"), "c1"));
        var before = (await Settled(async () => await store.AppendAsync(Presence("warm-up")))).Seq;

        // Redis is cut off: the first write times out and is held back; the second is held behind it.
        proxy.Freeze();
        var first = await store.AppendAsync(Presence("first-held"));
        var secondEvent = Presence("second-held");
        var (second, written) = await store.WriteOwnedAsync(secondEvent, "append", RoomScripts.Append, store.AppendArgs(secondEvent));
        Assert.Equal((before + 1, before + 2), (first.Seq, second!.Seq));

        // Redis comes back, but from the moment the second event is sent its answers are lost: Redis takes it,
        // the node does not hear so, gives the call up and sends it again.
        proxy.HoldRepliesOnceSent("second-held");
        proxy.Thaw();
        await proxy.MarkerSentAsync(2).WaitAsync(TimeSpan.FromSeconds(30));
        proxy.Thaw();

        // Written once, at the seq it was given; the room's log has every event once, in order.
        Assert.Equal(second.Seq, (long)await written.WaitAsync(TimeSpan.FromSeconds(30)));
        var keys = store.Args(room);
        var log = (await admin.GetDatabase().SortedSetRangeByScoreWithScoresAsync(keys.Log))
            .Select(e => (Seq: (long)e.Score, Name: EventCodec.Decode(((ReadOnlyMemory<byte>)e.Element).Span, logged: true) is PresenceEvent p ? p.Name : ""))
            .ToList();
        Assert.Single(log, e => e.Name == "second-held");
        Assert.Single(log, e => e.Name == "first-held");
        Assert.Equal(Enumerable.Range(1, log.Count).Select(i => (long)i), log.Select(e => e.Seq));
        Assert.Equal(second.Seq, log.Single(e => e.Name == "second-held").Seq);
        Assert.Equal(second.Seq, (long)await admin.GetDatabase().StringGetAsync(keys.Seq));

        static PresenceEvent Presence(string name) => new(room, "alice", name, "joined");

        static async Task<T> Settled<T>(Func<Task<T>> call)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    return await call();
                }
                catch (ChatRequestException) when (attempt < 5)
                {
                }
            }
        }
    }
}
