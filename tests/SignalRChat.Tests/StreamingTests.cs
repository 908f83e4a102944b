using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Model;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

public sealed class StreamingTests
{
    private static readonly Dictionary<string, string?> LongReplies = new()
    {
        ["Chat:Offline:TokenDelayMs"] = "10",
        ["Chat:Offline:ReplyTokens"] = "3000",
    };

    [Fact]
    public async Task Two_members_see_the_same_reply_stream_with_contiguous_seq()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var first = await alice.JoinRoomAsync("lobby");
        var second = await bob.JoinRoomAsync("lobby");

        Assert.Equal(1, first.LastSeq);
        Assert.Equal(["alice"], first.Members.Select(m => m.Name));
        Assert.Equal(["alice", "bob"], second.Members.Select(m => m.Name).Order());

        var reply = await alice.AskAsync("lobby", "hello everyone");
        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, aliceFinal.State);
        Assert.StartsWith(OfflineChatClient.Intro, aliceFinal.Text);
        Assert.Equal(aliceFinal.Text, aliceLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Text, bobLog.TextOf(reply.GenerationId));
        Assert.Equal(20, aliceLog.TokenCount());
        Assert.Equal(Describe(aliceLog.ForGeneration(reply.GenerationId)), Describe(bobLog.ForGeneration(reply.GenerationId)));

        var tokenStream = new List<string>();
        await foreach (var token in reply.Tokens)
        {
            tokenStream.Add(token);
        }

        Assert.Equal(aliceFinal.Text, string.Concat(tokenStream));

        // Every member's view is contiguous from its snapshot on.
        AssertContiguous(aliceLog.Events, first.LastSeq);
        AssertContiguous(bobLog.Events, second.LastSeq);
        Assert.Equal(aliceFinal.Seq, bobFinal.Seq);
    }

    [Fact]
    public async Task A_reply_streams_as_deltas_before_it_is_complete()
    {
        await using var server = await ChatServer.StartAsync(LongReplies);
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("deltas");

        var reply = await alice.AskAsync("deltas", "tell me something long");
        await log.WaitForTokensAsync(reply.GenerationId, 3);

        Assert.False(reply.Completion.IsCompleted);
        var tokens = log.Events.OfType<TokenEvent>().Take(3).Select(t => t.Text).ToList();
        Assert.All(tokens, t => Assert.True(t.Length < 20, $"'{t}' looks like more than a delta"));
        Assert.True(await reply.StopAsync());
    }

    [Theory]
    [InlineData(BackendNode.Memory)]
    [InlineData(BackendNode.Redis)]
    public async Task Stop_from_another_member_stops_the_reply_for_everyone_and_keeps_the_partial_text(string backend)
    {
        await using var node = await BackendNode.StartAsync(backend, LongReplies);
        var server = node.Server;
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("stop");
        await bob.JoinRoomAsync("stop");

        var (reply, aliceFinal) = await BobStopsAlicesReplyAsync(alice, aliceLog, bob, bobLog, "stop");
        Assert.False(string.IsNullOrEmpty(aliceFinal.Text));
        Assert.True(aliceFinal.Text!.Length < 3000);
        Assert.Equal(aliceFinal.Text, aliceLog.TextOf(reply.GenerationId));

        // Nothing of that generation follows its final status, and a later reply still runs.
        var next = await alice.AskAsync("stop", "are you still there?");
        await aliceLog.WaitForTokensAsync(next.GenerationId, 1);
        await bobLog.WaitForTokensAsync(next.GenerationId, 1);
        AssertNothingFollowsTheFinal(aliceLog, reply.GenerationId);
        AssertNothingFollowsTheFinal(bobLog, reply.GenerationId);

        Assert.False(await alice.CancelGenerationAsync(reply.GenerationId));
        Assert.True(await next.StopAsync());
        await aliceLog.WaitForFinalAsync(next.GenerationId);

        // History keeps the partial reply, marked cancelled.
        var carol = await server.ConnectAsync("carol");
        var snapshot = await carol.JoinRoomAsync("stop");
        var kept = snapshot.Messages.Single(m => m.MessageId == aliceFinal.MessageId);
        Assert.Equal(MessageStates.Cancelled, kept.State);
        Assert.Equal(aliceFinal.CancelledBy, kept.CancelledBy);
        Assert.Equal(aliceFinal.Text, kept.Text);
        Assert.Equal(MessageRoles.Assistant, kept.Role);
    }

    [Theory]
    [InlineData(BackendNode.Memory)]
    [InlineData(BackendNode.Redis)]
    public async Task Messages_sent_while_a_reply_runs_are_queued_and_answered_in_order(string backend)
    {
        await using var node = await BackendNode.StartAsync(backend, new Dictionary<string, string?> { ["Chat:Offline:ReplyTokens"] = "30" });
        var server = node.Server;
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("queue");

        var replies = new List<ChatReplyIds>();
        foreach (var text in new[] { "first", "second", "third" })
        {
            var sent = await alice.SendMessageAsync("queue", text);
            replies.Add(new ChatReplyIds(sent.MessageId, sent.GenerationId!));
        }

        foreach (var reply in replies)
        {
            Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(reply.GenerationId)).State);
        }

        var events = log.Events;
        int IndexOf(Func<RoomEvent, bool> match) => events.ToList().FindIndex(e => match(e));
        Assert.True(IndexOf(e => e is StatusEvent { State: GenerationStates.Queued } s && s.GenerationId == replies[1].GenerationId) >= 0);
        Assert.True(IndexOf(e => e is StatusEvent { State: GenerationStates.Queued } s && s.GenerationId == replies[2].GenerationId) >= 0);
        Assert.DoesNotContain(events, e => e is StatusEvent { State: GenerationStates.Queued } s && s.GenerationId == replies[0].GenerationId);

        for (var i = 1; i < replies.Count; i++)
        {
            var previousEnd = IndexOf(e => e is StatusEvent { IsFinal: true } s && s.GenerationId == replies[i - 1].GenerationId);
            var start = IndexOf(e => e is StatusEvent { State: GenerationStates.Thinking } s && s.GenerationId == replies[i].GenerationId);
            Assert.True(previousEnd < start, $"reply {i + 1} started before reply {i} ended");
        }
    }

    [Theory]
    [InlineData(BackendNode.Memory)]
    [InlineData(BackendNode.Redis)]
    public async Task A_queued_reply_can_be_stopped_before_it_starts(string backend)
    {
        await using var node = await BackendNode.StartAsync(backend, LongReplies);
        var server = node.Server;
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("queue-stop");

        var running = await alice.AskAsync("queue-stop", "long one");
        var waiting = await alice.SendMessageAsync("queue-stop", "never mind");
        await log.WaitForAsync(e => e is StatusEvent { State: GenerationStates.Queued } s && s.GenerationId == waiting.GenerationId);

        Assert.True(await alice.CancelGenerationAsync(waiting.GenerationId!));
        var stopped = await log.WaitForFinalAsync(waiting.GenerationId!);
        Assert.Equal(GenerationStates.Cancelled, stopped.State);
        Assert.Equal(("alice", CancelReasons.Stopped), (stopped.CancelledBy?.Name, stopped.Reason));
        Assert.True(await running.StopAsync());
        await log.WaitForFinalAsync(running.GenerationId);
        Assert.DoesNotContain(log.Events, e => e is StatusEvent { State: GenerationStates.Thinking } s && s.GenerationId == waiting.GenerationId);
    }

    [Fact]
    public async Task A_calculation_runs_the_calculator_tool_and_its_progress_arrives_in_order_around_the_result()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("maths");
        await bob.JoinRoomAsync("maths");

        var reply = await alice.AskAsync("maths", "please calculate 17*23");
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        await bobLog.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Contains("17*23 = 391", final.Text);
        var steps = log.ForGeneration(reply.GenerationId).Where(e => e is not TokenEvent).Select(Step).ToList();
        Assert.Equal(
        [
            "status:thinking", "status:tool", "tool:calculator:started", "tool:calculator:progress", "tool:calculator:completed:391",
            "status:thinking", "status:generating", "status:completed",
        ], steps);
        var events = log.ForGeneration(reply.GenerationId).ToList();
        var completedAt = events.FindIndex(e => e is ToolProgressEvent { Phase: ToolPhases.Completed });
        Assert.DoesNotContain(events.Take(completedAt), e => e is TokenEvent);
        Assert.Equal(Describe(log.ForGeneration(reply.GenerationId)), Describe(bobLog.ForGeneration(reply.GenerationId)));
    }

    [Fact]
    public async Task A_bad_calculation_shows_the_tool_failing_and_the_reply_explains_it()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("maths-bad");

        var reply = await alice.AskAsync("maths-bad", "calculate 1/0");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        var failed = log.Events.OfType<ToolProgressEvent>().Single(p => p.Phase == ToolPhases.Failed);
        Assert.Equal("division by zero", failed.Detail);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Contains("division by zero", final.Text);
    }

    [Fact]
    public async Task The_clock_tool_tells_the_time()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("clock");

        var reply = await alice.AskAsync("clock", "what time is it?");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Contains(log.Events, e => e is ToolProgressEvent { Tool: "clock", Phase: ToolPhases.Completed });
        Assert.Matches(@"the clock says it is \d{4}-\d\d-\d\dT", final.Text);
    }

    [Fact]
    public async Task A_model_failure_ends_the_reply_as_failed_with_a_readable_error_and_the_next_message_runs()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("failing");

        var broken = await alice.SendMessageAsync("failing", "this one breaks #fail");
        var healthy = await alice.SendMessageAsync("failing", "and this one works");

        var failed = await log.WaitForFinalAsync(broken.GenerationId!);
        Assert.Equal(GenerationStates.Failed, failed.State);
        Assert.Contains("asked to fail", failed.Error);
        Assert.DoesNotContain("   at ", failed.Error);
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(healthy.GenerationId!)).State);

        var snapshot = await alice.JoinRoomAsync("failing");
        Assert.Equal(MessageStates.Failed, snapshot.Messages.Single(m => m.MessageId == failed.MessageId).State);
    }

    [Fact]
    public async Task A_member_who_joins_mid_reply_gets_the_text_so_far_and_then_the_rest()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Offline:TokenDelayMs"] = "5", ["Chat:Offline:ReplyTokens"] = "200" });
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("late");
        var reply = await alice.AskAsync("late", "long story please");
        await aliceLog.WaitForTokensAsync(reply.GenerationId, 10);

        var carol = await server.ConnectAsync("carol");
        var carolLog = new EventLog(carol);
        var snapshot = await carol.JoinRoomAsync("late");

        Assert.NotNull(snapshot.ActiveGeneration);
        Assert.Equal(reply.GenerationId, snapshot.ActiveGeneration.GenerationId);
        Assert.NotEmpty(snapshot.ActiveGeneration.Text);
        Assert.Contains(snapshot.Messages, m => m.MessageId == snapshot.ActiveGeneration.MessageId && m.State == MessageStates.Generating);

        var final = await carolLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(final.Text, snapshot.ActiveGeneration.Text + carolLog.TextOf(reply.GenerationId));
        AssertContiguous(carolLog.Events, snapshot.LastSeq);
    }

    [Fact]
    public async Task Presence_follows_joins_leaves_and_disconnects()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("presence");
        var bob = await server.ConnectAsync("bob");
        await bob.JoinRoomAsync("presence");
        await bob.JoinRoomAsync("elsewhere");
        await log.WaitForAsync(e => e is PresenceEvent { Name: "bob", State: PresenceStates.Joined });

        await bob.DisposeAsync();
        await log.WaitForAsync(e => e is PresenceEvent { Name: "bob", State: PresenceStates.Left });

        var dave = await server.ConnectAsync("dave");
        await dave.JoinRoomAsync("presence");
        await dave.LeaveRoomAsync("presence");
        await log.WaitForAsync(e => e is PresenceEvent { Name: "dave", State: PresenceStates.Left });
        var snapshot = await alice.JoinRoomAsync("presence");
        Assert.Equal(["alice"], snapshot.Members.Select(m => m.Name));
    }

    [Fact]
    public async Task One_user_on_two_devices_is_present_once_and_both_devices_stream()
    {
        await using var server = await ChatServer.StartAsync();
        var session = await SignalRChat.Client.ChatClient.SignInAsGuestAsync(server.Url, "alice");
        await using var phone = new SignalRChat.Client.ChatClient(server.Url, session.Token);
        await using var laptop = new SignalRChat.Client.ChatClient(server.Url, session.Token);
        await phone.StartAsync();
        await laptop.StartAsync();
        var phoneLog = new EventLog(phone);
        var laptopLog = new EventLog(laptop);
        await phone.JoinRoomAsync("devices");
        var snapshot = await laptop.JoinRoomAsync("devices");

        Assert.Single(snapshot.Members);
        var reply = await phone.AskAsync("devices", "hi from my phone");
        var final = await laptopLog.WaitForFinalAsync(reply.GenerationId);
        await phoneLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(final.Text, phoneLog.TextOf(reply.GenerationId));
        Assert.Empty(laptopLog.Events.OfType<PresenceEvent>());

        // Leaving on one device keeps the user present through the other.
        await laptop.DisposeAsync();
        var again = await phone.SendMessageAsync("devices", "still here");
        Assert.Equal(GenerationStates.Completed, (await phoneLog.WaitForFinalAsync(again.GenerationId!)).State);
        Assert.Empty(phoneLog.Events.OfType<PresenceEvent>());
    }

    /// <summary>Alice asks for a long reply in <paramref name="room"/> and Bob stops it: both get the same cancelled final status, and Bob's deltas are its text.</summary>
    internal static async Task<(ChatReply Reply, StatusEvent AliceFinal)> BobStopsAlicesReplyAsync(ChatClient alice, EventLog aliceLog, ChatClient bob, EventLog bobLog, string room)
    {
        var reply = await alice.AskAsync(room, "write a long reply");
        await bobLog.WaitForTokensAsync(reply.GenerationId, 5);
        Assert.True(await bob.CancelGenerationAsync(reply.GenerationId));
        Assert.False(await bob.CancelGenerationAsync(reply.GenerationId));

        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Cancelled, aliceFinal.State);
        Assert.Equal("bob", aliceFinal.CancelledBy?.Name);
        Assert.Equal(CancelReasons.Stopped, aliceFinal.Reason);
        Assert.Equal(aliceFinal.Seq, bobFinal.Seq);
        Assert.Equal(aliceFinal.CancelledBy, bobFinal.CancelledBy);
        Assert.Equal(aliceFinal.Text, bobLog.TextOf(reply.GenerationId));
        return (reply, aliceFinal);
    }

    /// <summary>No delta of the generation comes after its final status in this member's view.</summary>
    internal static void AssertNothingFollowsTheFinal(EventLog log, string generationId)
    {
        var events = log.Events.ToList();
        var finalIndex = events.FindIndex(e => e is StatusEvent { IsFinal: true } s && s.GenerationId == generationId);
        Assert.DoesNotContain(events.Skip(finalIndex + 1), e => e is TokenEvent t && t.GenerationId == generationId);
    }

    internal static void AssertContiguous(IReadOnlyList<RoomEvent> events, long afterSeq)
    {
        var expected = afterSeq + 1;
        foreach (var roomEvent in events)
        {
            Assert.Equal(expected, roomEvent.FirstCoveredSeq);
            expected = roomEvent.Seq + 1;
        }
    }

    /// <summary>
    /// The events as a reader sees them, with each stretch of consecutive deltas as one entry (its seqs and its text):
    /// a reader that fell behind may get deltas joined, which tells the same story.
    /// </summary>
    private static List<string> Describe(IEnumerable<RoomEvent> events)
    {
        var described = new List<string>();
        long first = 0, last = 0;
        var text = new System.Text.StringBuilder();
        void Flush()
        {
            if (text.Length > 0 || last > 0)
            {
                described.Add($"{first}-{last}:token:{text}");
                text.Clear();
                last = 0;
            }
        }

        foreach (var e in events)
        {
            if (e is TokenEvent token)
            {
                if (last == 0)
                {
                    first = token.FirstCoveredSeq;
                }

                last = token.Seq;
                text.Append(token.Text);
                continue;
            }

            Flush();
            described.Add($"{e.Seq}:{Step(e)}:");
        }

        Flush();
        return described;
    }

    private static string Step(RoomEvent e) => e switch
    {
        StatusEvent s => $"status:{s.State}",
        ToolProgressEvent { Phase: ToolPhases.Completed } p => $"tool:{p.Tool}:{p.Phase}:{p.Detail}",
        ToolProgressEvent p => $"tool:{p.Tool}:{p.Phase}",
        TokenEvent => "token",
        _ => e.Kind,
    };

    private sealed record ChatReplyIds(string MessageId, string GenerationId);
}
