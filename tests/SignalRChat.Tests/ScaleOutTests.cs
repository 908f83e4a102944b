using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Several nodes share rooms through a real redis-server, or a real three-master Redis Cluster: one stream, one queue, Stop from anywhere.</summary>
public sealed class ScaleOutTests
{
    private static List<(long Seq, string Kind)> Covered(IEnumerable<RoomEvent> events) =>
        events.SelectMany(e => Enumerable.Range(0, (int)(e.Seq - e.FirstCoveredSeq + 1)).Select(i => (e.FirstCoveredSeq + i, e.Kind))).ToList();

    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task Members_on_different_nodes_see_identical_ordered_streams_with_contiguous_seq(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var aliceSnapshot = await alice.JoinRoomAsync("shared");
        var bobSnapshot = await bob.JoinRoomAsync("shared");
        Assert.Equal(["alice", "bob"], bobSnapshot.Members.Select(m => m.Name).Order());

        var reply = await alice.AskAsync("shared", "please calculate 17*23");
        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, bobFinal.State);
        Assert.Contains("17*23 = 391", bobFinal.Text);
        Assert.Equal(aliceFinal.Seq, bobFinal.Seq);
        Assert.Equal(bobFinal.Text, bobLog.TextOf(reply.GenerationId));
        // Either member's reader may have fallen behind (a busy machine) and got deltas joined into one event: compare the seqs covered.
        Assert.Equal(Covered(aliceLog.Events.Where(e => e.Seq > bobSnapshot.LastSeq)), Covered(bobLog.Events));
        StreamingTests.AssertContiguous(aliceLog.Events, aliceSnapshot.LastSeq);
        StreamingTests.AssertContiguous(bobLog.Events, bobSnapshot.LastSeq);
        Assert.Contains(bobLog.Events, e => e is ToolProgressEvent { Phase: ToolPhases.Completed, Detail: "391" });
    }

    [Fact]
    public async Task A_model_faster_than_Redis_round_trips_is_not_held_to_one_delta_per_write_and_nothing_is_lost()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "0", ["Chat:Offline:ReplyTokens"] = "2000" };
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var aliceFrom = (await alice.JoinRoomAsync("fast")).LastSeq;
        var bobFrom = (await bob.JoinRoomAsync("fast")).LastSeq;

        var reply = await alice.AskAsync("fast", "as fast as the model can");
        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));

        // The whole reply, on both nodes, in order, with every seq accounted for.
        Assert.Equal(GenerationStates.Completed, aliceFinal.State);
        Assert.Equal(aliceFinal.Text, aliceLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Text, bobLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Text, bobFinal.Text);
        StreamingTests.AssertContiguous(aliceLog.Events, aliceFrom);
        StreamingTests.AssertContiguous(bobLog.Events, bobFrom);

        // Deltas that came while a write was under way went out together: fewer events than the model's 2000 deltas.
        var written = bobLog.TokenCount(reply.GenerationId);
        Assert.True(written < 2000, $"{written} token events for 2000 deltas: every delta waited for its own round trip");
        var history = (await bob.JoinRoomAsync("fast")).Messages.Single(m => m.MessageId == aliceFinal.MessageId);
        Assert.Equal(aliceFinal.Text, history.Text);
    }

    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task Stop_on_one_node_stops_a_reply_running_on_the_other_for_everyone(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);
        var slow = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "3000" };
        await using var nodeA = await ChatServer.StartAsync(slow);
        await using var nodeB = await ChatServer.StartAsync(slow);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("stop-anywhere");
        await bob.JoinRoomAsync("stop-anywhere");

        var (reply, _) = await StreamingTests.BobStopsAlicesReplyAsync(alice, aliceLog, bob, bobLog, "stop-anywhere");

        // The room moves on, and nothing of the stopped reply follows its final status.
        var next = await bob.AskAsync("stop-anywhere", "next one");
        await aliceLog.WaitForTokensAsync(next.GenerationId, 1);
        StreamingTests.AssertNothingFollowsTheFinal(aliceLog, reply.GenerationId);
        Assert.True(await next.StopAsync());
        Assert.False(await alice.CancelGenerationAsync("g-unknown"));
    }

    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task Messages_sent_to_both_nodes_at_once_run_one_at_a_time_in_order(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("busy");
        await bob.JoinRoomAsync("busy");

        var sends = Enumerable.Range(0, 4).SelectMany(i => new[] { alice.SendMessageAsync("busy", $"alice {i}"), bob.SendMessageAsync("busy", $"bob {i}") }).ToList();
        var sent = await Task.WhenAll(sends);
        foreach (var s in sent)
        {
            Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(s.GenerationId!)).State);
        }

        var events = log.Events.ToList();
        var userOrder = events.OfType<MessageEvent>().Where(m => m.Message.Role == MessageRoles.User).Select(m => m.Message.MessageId).ToList();
        var generationOf = sent.ToDictionary(s => s.MessageId, s => s.GenerationId!);
        var expected = userOrder.Select(id => generationOf[id]).ToList();
        var started = events.OfType<StatusEvent>().Where(s => s.State == GenerationStates.Thinking).Select(s => s.GenerationId).ToList();
        Assert.Equal(expected, started);

        // Never two at once: each reply starts after the previous one's final status.
        string? running = null;
        foreach (var status in events.OfType<StatusEvent>())
        {
            if (status.State == GenerationStates.Thinking && running != status.GenerationId)
            {
                Assert.Null(running);
                running = status.GenerationId;
            }
            else if (status.IsFinal && status.GenerationId == running)
            {
                running = null;
            }
        }

        StreamingTests.AssertContiguous(events.Where(e => e.Seq > events[0].Seq - 1).ToList(), events[0].Seq - 1);
    }

    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task When_the_node_running_a_reply_is_killed_another_node_fails_it_and_the_queue_moves_on(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "3000" };
        await using var doomed = await ServerProcess.StartAsync(settings);
        await using var survivor = await ChatServer.StartAsync(new Dictionary<string, string?>(redis.NodeSettings()));
        await using var alice = await ChatClient.ConnectAsGuestAsync(doomed.Url, "alice");
        var bob = await survivor.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("fragile");
        await bob.JoinRoomAsync("fragile");

        var doomedReply = await alice.SendMessageAsync("fragile", "a long reply on the node that dies");
        await bobLog.WaitForTokensAsync(doomedReply.GenerationId!, 5);
        var waiting = await bob.SendMessageAsync("fragile", "and then this one");
        await bobLog.WaitForAsync(e => e is StatusEvent { State: GenerationStates.Queued } s && s.GenerationId == waiting.GenerationId);

        await doomed.KillAsync();

        var failed = await bobLog.WaitForFinalAsync(doomedReply.GenerationId!, TimeSpan.FromSeconds(5));
        Assert.Equal(GenerationStates.Failed, failed.State);
        Assert.Equal("the server handling this reply stopped", failed.Error);
        Assert.Equal(failed.Text, bobLog.TextOf(doomedReply.GenerationId!));
        Assert.Equal(GenerationStates.Completed, (await bobLog.WaitForFinalAsync(waiting.GenerationId!)).State);

        var snapshot = await bob.JoinRoomAsync("fragile");
        Assert.Null(snapshot.ActiveGeneration);
        Assert.Equal(MessageStates.Failed, snapshot.Messages.Single(m => m.MessageId == failed.MessageId).State);
        Assert.DoesNotContain(snapshot.Messages, m => m.State == MessageStates.Generating);
    }

    [Fact]
    public async Task A_reply_another_node_gave_up_while_its_node_still_runs_it_gets_no_delta_after_its_final_status_and_stops_there()
    {
        await using var redis = await RedisServer.StartAsync();

        // Node A runs the reply and does not renew its lease during the test (as a node too busy to renew in time);
        // node B looks for expired leases often. The lease is expired by hand, so B gives the reply up while A goes on.
        var runner = new Dictionary<string, string?>(redis.NodeSettings())
        {
            ["Chat:Redis:Lease"] = "01:00:00",
            ["Chat:Redis:SweepInterval"] = "00:59:00",
            ["Chat:Offline:TokenDelayMs"] = "10",
            ["Chat:Offline:ReplyTokens"] = "3000",
        };
        var sweeper = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Redis:SweepInterval"] = "00:00:00.1" };
        await using var nodeA = await ChatServer.StartAsync(runner);
        await using var nodeB = await ChatServer.StartAsync(sweeper);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("given-up");
        await bob.JoinRoomAsync("given-up");

        var reply = await alice.SendMessageAsync("given-up", "a long reply on a node that falls behind on its lease");
        var generationId = reply.GenerationId!;
        await bobLog.WaitForTokensAsync(generationId, 5);
        var running = nodeA.Services.GetRequiredService<SignalRChat.Server.Generation.GenerationRegistry>().FindLive(generationId)!;
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        running.Cancellation.Token.Register(() => stopped.TrySetResult());

        using (var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            var db = connection.GetDatabase();
            await db.StringSetAsync(SignalRChat.Server.Redis.RedisKeys.Room("given-up") + ":lease", "0");
            await db.SortedSetAddAsync(SignalRChat.Server.Redis.RedisKeys.LeaseBucketOf("given-up"), "given-up", 0);
        }

        var failed = await bobLog.WaitForFinalAsync(generationId, TimeSpan.FromSeconds(10));
        Assert.Equal((GenerationStates.Failed, "the server handling this reply stopped"), (failed.State, failed.Error));

        // Node A learns it from its next write, not from a renewal that may be a while away: it stops the reply at once.
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await aliceLog.WaitForFinalAsync(generationId);

        // Nothing of the reply follows its final status, in the room's log or at either member; what they have is the final text.
        var logged = await nodeB.Services.GetRequiredService<SignalRChat.Server.Rooms.IRoomStore>().ReadAfterAsync("given-up", 0);
        Assert.DoesNotContain(logged.Events, e => e.Seq > failed.Seq && (e is TokenEvent t && t.GenerationId == generationId || e is StatusEvent s && s.GenerationId == generationId));
        foreach (var log in new[] { aliceLog, bobLog })
        {
            Assert.DoesNotContain(log.ForGeneration(generationId), e => e.Seq > failed.Seq);
            Assert.Equal(failed.Text, log.TextOf(generationId));
        }
    }

    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task A_restarted_node_loses_no_history_and_a_member_can_resume_on_another_node(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);

        // Node A stops as in a redeploy: a reply it runs gets the drain time to finish.
        var settings = new Dictionary<string, string?>(redis.NodeSettings())
        {
            ["Chat:Offline:TokenDelayMs"] = "5",
            ["Chat:Offline:ReplyTokens"] = "200",
            ["Chat:Generation:DrainTime"] = "00:00:30",
        };
        var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("durable");
        var first = await alice.AskAsync("durable", "remember this");
        await aliceLog.WaitForFinalAsync(first.GenerationId);

        // Alice's phone follows a second reply on node A, then node A goes away mid-reply.
        var bob = await nodeB.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        await bob.JoinRoomAsync("durable");
        var second = await bob.AskAsync("durable", "a second, longer one");
        await aliceLog.WaitForTokensAsync(second.GenerationId, 5);
        var seen = alice.LastSeq("durable");
        await nodeA.DisposeAsync();

        await using var laptop = new ChatClient(nodeB.Url, alice.Session!.Token);
        await laptop.StartAsync();
        var laptopLog = new EventLog(laptop);
        var resumed = await laptop.ResumeAsync("durable", seen);
        Assert.False(resumed.Reset);
        var final = await laptopLog.WaitForFinalAsync(second.GenerationId);
        Assert.Equal((await bobLog.WaitForFinalAsync(second.GenerationId)).Text, final.Text);
        Assert.Equal(final.Text, aliceLog.TextOf(second.GenerationId) + laptopLog.TextOf(second.GenerationId));

        await using var restarted = await ChatServer.StartAsync(settings);
        var carol = await restarted.ConnectAsync("carol");
        var snapshot = await carol.JoinRoomAsync("durable");
        Assert.Equal(["remember this", "a second, longer one"], snapshot.Messages.Where(m => m.Role == MessageRoles.User).Select(m => m.Text));
        Assert.Equal(2, snapshot.Messages.Count(m => m.Role == MessageRoles.Assistant && m.State == MessageStates.Completed));
    }

    [Fact]
    public async Task A_member_who_joins_mid_reply_on_another_node_gets_the_text_so_far_then_the_rest()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "5", ["Chat:Offline:ReplyTokens"] = "200" };
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("late-join");
        var reply = await alice.AskAsync("late-join", "long answer");
        await aliceLog.WaitForTokensAsync(reply.GenerationId, 10);

        var carol = await nodeB.ConnectAsync("carol");
        var carolLog = new EventLog(carol);
        var snapshot = await carol.JoinRoomAsync("late-join");

        Assert.Equal(reply.GenerationId, snapshot.ActiveGeneration?.GenerationId);
        var final = await carolLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(final.Text, snapshot.ActiveGeneration!.Text + carolLog.TextOf(reply.GenerationId));
    }

    [Fact]
    public async Task Messages_on_a_rooms_channel_that_are_not_room_events_are_logged_and_skipped_and_the_room_goes_on()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var from = (await alice.JoinRoomAsync("noisy")).LastSeq;
        await bob.JoinRoomAsync("noisy");

        // Whatever else reaches the room's channel: no kind, an unknown kind, bytes that are not text, a cut-off event.
        await using (var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            var channel = SignalRChat.Server.Redis.RedisKeys.RoomChannel("noisy");
            foreach (var junk in new StackExchange.Redis.RedisValue[] { "", "no kind at all", "shout|{}", new byte[] { 0xff, 0xfe, (byte)'|', 0x00 }, "token|{\"roomId\":\"noisy\",\"seq\":" })
            {
                Assert.Equal(2, await admin.GetSubscriber().PublishAsync(channel, junk));
            }
        }

        // Published after the junk on the same channel, so each node has read all of it once the reply is over.
        var reply = await alice.AskAsync("noisy", "please calculate 17*23");
        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, aliceFinal.State);
        Assert.Equal(aliceFinal.Text, bobFinal.Text);
        Assert.Equal(aliceFinal.Text, aliceLog.TextOf(reply.GenerationId));
        Assert.Contains("391", aliceFinal.Text, StringComparison.Ordinal);
        StreamingTests.AssertContiguous(aliceLog.Events, from);
        foreach (var node in new[] { nodeA, nodeB })
        {
            Assert.Equal(5, node.Logs.Lines.Count(l => l.Contains("A message on the channel of room noisy could not be read", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task Private_rooms_and_membership_hold_across_nodes()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var owner = await nodeA.ConnectAsync("owner");
        var guest = await nodeB.ConnectAsync("guest");
        await owner.CreateRoomAsync("vip", RoomVisibility.Private);

        await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => guest.JoinRoomAsync("vip"));
        await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => guest.SendMessageAsync("vip", "hi"));
        await owner.InviteToRoomAsync("vip", guest.Session!.UserId);
        var snapshot = await guest.JoinRoomAsync("vip");
        Assert.Equal(["guest", "owner"], snapshot.Members.Select(m => m.Name).Order());
    }

    [Fact]
    public async Task With_Redis_configured_and_no_signing_key_start_up_stops_and_says_why()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = redis.NodeSettings();
        settings.Remove("Chat:Auth:SigningKey");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(settings));

        Assert.Contains("every node must share one signing key", error.ToString());
    }
}

/// <summary>Per-user limits hold across nodes when Redis is configured.</summary>
public sealed class ScaleOutLimitTests
{
    [Fact]
    public async Task The_message_rate_and_the_connection_limit_count_a_user_on_every_node()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings())
        {
            ["Chat:Limits:MessagesPerMinute"] = "3",
            ["Chat:Limits:MaxConnectionsPerUser"] = "2",
        };
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var session = await ChatClient.SignInAsGuestAsync(nodeA.Url, "alice");
        await using var phone = new ChatClient(nodeA.Url, session.Token);
        await using var laptop = new ChatClient(nodeB.Url, session.Token);
        await phone.StartAsync();
        await laptop.StartAsync();
        await phone.JoinRoomAsync("limits");
        await laptop.JoinRoomAsync("limits");

        await phone.SendMessageAsync("limits", "one");
        await phone.SendMessageAsync("limits", "two");
        await laptop.SendMessageAsync("limits", "three");
        var refused = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => laptop.SendMessageAsync("limits", "four"));
        Assert.Contains("rate limit: 3 messages a minute", refused.Message);

        // A third connection, on either node, is one too many.
        await using var tablet = new ChatClient(nodeA.Url, session.Token);
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        tablet.Connection.Closed += error =>
        {
            closed.TrySetResult(error);
            return Task.CompletedTask;
        };
        var why = await Record.ExceptionAsync(() => tablet.StartAsync()) ?? await closed.Task.WaitAsync(EventLog.DefaultTimeout);
        Assert.Contains("connection limit: 2 connections per user", why?.Message);
    }
}
