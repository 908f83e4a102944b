using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>A tool that changes the room runs only once a member approves it; any member decides, the first decision wins.</summary>
public sealed class ApprovalTests
{
    [Fact]
    public async Task Another_member_approves_the_topic_change_and_the_reply_goes_on()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("approve");
        await bob.JoinRoomAsync("approve");

        var reply = await alice.AskAsync("approve", "please set the topic to Weekend plans");
        var pending = (ToolApprovalEvent)await bobLog.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });
        Assert.Equal("set_room_topic", pending.Tool);
        Assert.Equal("Weekend plans", pending.Arguments.GetProperty("topic").GetString());
        Assert.Equal(reply.GenerationId, pending.GenerationId);
        Assert.Contains(bobLog.Events, e => e is StatusEvent { State: GenerationStates.Tool } s && s.GenerationId == reply.GenerationId);

        Assert.True(await bob.DecideToolCallAsync(pending.ApprovalId, approve: true));
        Assert.False(await alice.DecideToolCallAsync(pending.ApprovalId, approve: false));

        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        var decided = (ToolApprovalEvent)await aliceLog.WaitForAsync(e => e is ToolApprovalEvent { State: not ApprovalStates.Pending });
        Assert.Equal(ApprovalStates.Approved, decided.State);
        Assert.Equal("bob", decided.DecidedBy?.Name);
        var topic = (RoomSettingsEvent)await aliceLog.WaitForAsync(e => e is RoomSettingsEvent);
        Assert.Equal("Weekend plans", topic.Settings.Topic);
        Assert.Equal("assistant", topic.ChangedBy.UserId);
        Assert.True(topic.Seq < final.Seq);
        Assert.Equal("Weekend plans", (await bob.JoinRoomAsync("approve")).Settings.Topic);
    }

    [Fact]
    public async Task A_denied_call_is_answered_to_the_model_as_a_refusal_and_nothing_changes()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("deny");
        await bob.JoinRoomAsync("deny");

        var reply = await alice.AskAsync("deny", "set the topic to Nothing important");
        var pending = (ToolApprovalEvent)await bobLog.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });
        Assert.True(await bob.DecideToolCallAsync(pending.ApprovalId, approve: false));

        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.True(final.Text!.Contains("did not approve set_room_topic"), final.Text);
        Assert.Contains(aliceLog.Events, e => e is ToolApprovalEvent { State: ApprovalStates.Denied, DecidedBy.Name: "bob" });
        Assert.DoesNotContain(aliceLog.Events, e => e is RoomSettingsEvent);
        Assert.Null((await alice.JoinRoomAsync("deny")).Settings.Topic);
    }

    [Fact]
    public async Task An_approval_nobody_decides_expires_a_late_decision_is_false_and_a_stopped_reply_expires_its_approval()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Tools:ApprovalTimeout"] = "00:00:01" });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("expire");

        var reply = await alice.AskAsync("expire", "set the topic to Too late");
        var expired = (ToolApprovalEvent)await log.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Expired });
        Assert.Null(expired.DecidedBy);
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Contains("did not approve", final.Text);
        Assert.False(await alice.DecideToolCallAsync(expired.ApprovalId, approve: true));
        Assert.Null((await alice.JoinRoomAsync("expire")).Settings.Topic);
    }

    [Fact]
    public async Task Stopping_a_reply_that_waits_for_approval_expires_the_approval()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("stop-waiting");

        var reply = await alice.AskAsync("stop-waiting", "set the topic to Never mind");
        var pending = (ToolApprovalEvent)await log.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });
        Assert.True(await reply.StopAsync());

        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Cancelled, final.State);
        var ended = (ToolApprovalEvent)await log.WaitForAsync(e => e is ToolApprovalEvent { State: not ApprovalStates.Pending });
        Assert.Equal(ApprovalStates.Expired, ended.State);
        Assert.True(ended.Seq < final.Seq);
        Assert.False(await alice.DecideToolCallAsync(pending.ApprovalId, approve: true));
    }

    [Fact]
    public async Task A_member_who_joins_while_a_call_waits_finds_it_in_the_snapshot_and_decides_it()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("late-joiner");
        var reply = await alice.AskAsync("late-joiner", "set the topic to Joined late");
        var pending = (ToolApprovalEvent)await aliceLog.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });

        var bob = await server.ConnectAsync("bob");
        var shown = Assert.Single((await bob.JoinRoomAsync("late-joiner")).PendingApprovals ?? []);
        Assert.Equal((pending.ApprovalId, pending.Seq, reply.GenerationId, "set_room_topic"), (shown.ApprovalId, shown.Seq, shown.GenerationId, shown.Tool));
        Assert.Equal("Joined late", shown.Arguments.GetProperty("topic").GetString());
        Assert.True(await bob.DecideToolCallAsync(shown.ApprovalId, approve: true));
        Assert.Equal(GenerationStates.Completed, (await aliceLog.WaitForFinalAsync(reply.GenerationId)).State);

        // Decided, it is pending for nobody who joins later; a room with no reply waiting carries none.
        var carol = await server.ConnectAsync("carol");
        Assert.Null((await carol.JoinRoomAsync("late-joiner")).PendingApprovals);
        Assert.Equal("Joined late", (await carol.JoinRoomAsync("late-joiner")).Settings.Topic);
    }

    [Fact]
    public async Task An_approval_of_another_room_is_refused_exactly_like_one_that_does_not_exist()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var mallory = await server.ConnectAsync("mallory");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("guarded");
        await mallory.JoinRoomAsync("elsewhere");

        var reply = await alice.AskAsync("guarded", "set the topic to Ours");
        var pending = (ToolApprovalEvent)await log.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });

        var real = await Assert.ThrowsAsync<HubException>(() => mallory.DecideToolCallAsync(pending.ApprovalId, approve: true));
        var made = await Assert.ThrowsAsync<HubException>(() => mallory.DecideToolCallAsync("a-0123456789abcdef", approve: true));
        Assert.Equal(made.Message.Replace("a-0123456789abcdef", pending.ApprovalId), real.Message);

        // Still pending: alice decides, and mallory's connection still works.
        Assert.True(await alice.DecideToolCallAsync(pending.ApprovalId, approve: true));
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(reply.GenerationId)).State);
        Assert.NotNull(await mallory.JoinRoomAsync("elsewhere"));
    }

    [Fact]
    public async Task A_pending_approval_is_replayed_to_a_member_who_reconnects_and_decided_on_another_node_the_reply_goes_on()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var alice = await nodeA.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("across");
        var bobSession = await SignalRChat.Client.ChatClient.SignInAsGuestAsync(nodeB.Url, "bob");
        var bobPhone = new SignalRChat.Client.ChatClient(nodeB.Url, bobSession.Token);
        await bobPhone.StartAsync();
        var seen = (await bobPhone.JoinRoomAsync("across")).LastSeq;
        await bobPhone.DisposeAsync();

        var reply = await alice.AskAsync("across", "please set the topic to Across nodes");
        var pending = (ToolApprovalEvent)await aliceLog.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });

        // Someone who opens the room on node B meanwhile finds the call waiting in the snapshot.
        var carol = await nodeB.ConnectAsync("carol");
        Assert.Equal(pending.ApprovalId, Assert.Single((await carol.JoinRoomAsync("across")).PendingApprovals ?? []).ApprovalId);

        // Bob comes back on node B and resumes: the pending approval is among the replayed events.
        await using var bobLaptop = new SignalRChat.Client.ChatClient(nodeB.Url, bobSession.Token);
        await bobLaptop.StartAsync();
        var bobLog = new EventLog(bobLaptop);
        Assert.False((await bobLaptop.ResumeAsync("across", seen)).Reset);
        var replayed = (ToolApprovalEvent)await bobLog.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });
        Assert.Equal(pending.ApprovalId, replayed.ApprovalId);

        Assert.True(await bobLaptop.DecideToolCallAsync(replayed.ApprovalId, approve: true));
        Assert.False(await alice.DecideToolCallAsync(replayed.ApprovalId, approve: false));
        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Contains(aliceLog.Events, e => e is ToolApprovalEvent { State: ApprovalStates.Approved, DecidedBy.Name: "bob" });
        Assert.Equal("Across nodes", ((RoomSettingsEvent)await bobLog.WaitForAsync(e => e is RoomSettingsEvent)).Settings.Topic);
        Assert.Equal("Across nodes", (await alice.JoinRoomAsync("across")).Settings.Topic);
    }
}
