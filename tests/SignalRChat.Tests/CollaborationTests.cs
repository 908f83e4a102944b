using Stopwatch = System.Diagnostics.Stopwatch;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>People working together in a room: who stopped a reply, when the assistant speaks, typing, regenerate, usage.</summary>
public sealed class CollaborationTests
{
    private static readonly Dictionary<string, string?> Slow = new() { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "3000" };

    [Fact]
    public async Task A_stopped_reply_says_who_stopped_it_keeps_it_in_history_and_its_usage_is_counted_and_charged()
    {
        await using var server = await ChatServer.StartAsync(Slow);
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("who-stopped");
        await bob.JoinRoomAsync("who-stopped");

        var (reply, aliceFinal) = await StreamingTests.BobStopsAlicesReplyAsync(alice, aliceLog, bob, bobLog, "who-stopped");

        Assert.Equal(GenerationStates.Cancelled, aliceFinal.State);
        Assert.Equal(new RoomMember(bob.Session!.UserId, "bob"), aliceFinal.CancelledBy);
        Assert.Equal(CancelReasons.Stopped, aliceFinal.Reason);
        Assert.NotNull(aliceFinal.Usage);
        Assert.True(aliceFinal.Usage!.OutputTokens >= 5, $"a stopped reply counts what it streamed, got {aliceFinal.Usage.OutputTokens}");
        Assert.True(aliceFinal.Usage.InputTokens > 0);

        var carol = await server.ConnectAsync("carol");
        var kept = (await carol.JoinRoomAsync("who-stopped")).Messages.Single(m => m.MessageId == aliceFinal.MessageId);
        Assert.Equal(MessageStates.Cancelled, kept.State);
        Assert.Equal("bob", kept.CancelledBy?.Name);
        Assert.Equal(reply.MessageId, kept.ReplyTo);

        // The daily budget of the one who asked is charged for what the stopped reply used, prompt and output.
        var limiter = server.Services.GetRequiredService<SignalRChat.Server.Limits.IUserLimiter>();
        var used = await limiter.GetTokensUsedAsync(alice.Session!.UserId, DateOnly.FromDateTime(DateTime.UtcNow));
        Assert.True(used >= aliceFinal.Usage.OutputTokens + aliceFinal.Usage.InputTokens, $"charged {used}, used {aliceFinal.Usage}");
        Assert.Equal(0, await limiter.GetTokensUsedAsync(bob.Session!.UserId, DateOnly.FromDateTime(DateTime.UtcNow)));
    }

    [Fact]
    public async Task In_a_mentioned_room_people_talk_without_replies_until_someone_mentions_the_assistant()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var snapshot = await alice.JoinRoomAsync("quiet");
        Assert.Equal(RoomSettings.Default, snapshot.Settings);
        await bob.JoinRoomAsync("quiet");

        var settings = await bob.UpdateRoomSettingsAsync("quiet", new RoomSettingsUpdate(Assistant: AssistantModes.Mentioned));
        Assert.Equal(AssistantModes.Mentioned, settings.Assistant);
        var changed = (RoomSettingsEvent)await aliceLog.WaitForAsync(e => e is RoomSettingsEvent);
        Assert.Equal("bob", changed.ChangedBy.Name);
        Assert.True(changed.Seq > snapshot.LastSeq);

        var hello = await alice.SendMessageAsync("quiet", "hi bob, how are you?");
        var fine = await bob.SendMessageAsync("quiet", "fine, and you?");
        Assert.Null(hello.GenerationId);
        Assert.Null(fine.GenerationId);
        await aliceLog.WaitForAsync(e => e is MessageEvent m && m.Message.MessageId == fine.MessageId);

        var asked = await alice.SendMessageAsync("quiet", "@Assistant what do you think?");
        Assert.NotNull(asked.GenerationId);
        var final = await bobLog.WaitForFinalAsync(asked.GenerationId!);
        Assert.Equal(GenerationStates.Completed, final.State);

        // The only reply in the room is the one that was asked for.
        Assert.Single(bobLog.Events.OfType<MessageEvent>(), m => m.Message.Role == MessageRoles.Assistant);
        Assert.All(bobLog.Events.OfType<StatusEvent>(), s => Assert.Equal(asked.GenerationId, s.GenerationId));
        var carol = await server.ConnectAsync("carol");
        Assert.Equal(AssistantModes.Mentioned, (await carol.JoinRoomAsync("quiet")).Settings.Assistant);
    }

    [Fact]
    public async Task With_onBusy_interrupt_a_new_message_stops_the_running_reply_in_the_senders_name_and_its_own_reply_completes()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>(Slow) { ["Chat:Offline:ReplyTokens"] = "400" });
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("busy");
        await bob.JoinRoomAsync("busy");
        await alice.UpdateRoomSettingsAsync("busy", new RoomSettingsUpdate(OnBusy: BusyModes.Interrupt));

        var first = await alice.AskAsync("busy", "tell me a long story");
        await aliceLog.WaitForTokensAsync(first.GenerationId, 3);
        var second = await bob.SendMessageAsync("busy", "actually, never mind that");

        var stopped = await aliceLog.WaitForFinalAsync(first.GenerationId);
        Assert.Equal(GenerationStates.Cancelled, stopped.State);
        Assert.Equal(CancelReasons.Interrupted, stopped.Reason);
        Assert.Equal("bob", stopped.CancelledBy?.Name);
        var final = await aliceLog.WaitForFinalAsync(second.GenerationId!, TimeSpan.FromSeconds(60));
        Assert.Equal(GenerationStates.Completed, final.State);
    }

    [Fact]
    public async Task With_onBusy_reject_a_message_sent_while_a_reply_runs_is_refused_and_not_stored()
    {
        await using var server = await ChatServer.StartAsync(Slow);
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("strict");
        await bob.JoinRoomAsync("strict");
        await alice.UpdateRoomSettingsAsync("strict", new RoomSettingsUpdate(OnBusy: BusyModes.Reject));

        var reply = await alice.AskAsync("strict", "a long answer please");
        await aliceLog.WaitForTokensAsync(reply.GenerationId, 2);
        var refused = await Assert.ThrowsAsync<HubException>(() => bob.SendMessageAsync("strict", "me too!"));
        Assert.Contains("onBusy", refused.Message);
        Assert.Contains("reject", refused.Message);

        Assert.True(await reply.StopAsync());
        await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var history = (await bob.JoinRoomAsync("strict")).Messages;
        Assert.DoesNotContain(history, m => m.Text == "me too!");

        // Once the room is free, bob's message goes through.
        var later = await bob.SendMessageAsync("strict", "me too, now?");
        Assert.NotNull(later.GenerationId);
    }

    [Fact]
    public async Task Settings_are_refused_to_those_who_may_not_change_them_and_bad_values_are_named()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var mallory = await server.ConnectAsync("mallory");
        await alice.CreateRoomAsync("private-one", RoomVisibility.Private);
        await alice.InviteToRoomAsync("private-one", bob.Session!.UserId);
        await bob.JoinRoomAsync("private-one");

        var notCreator = await Assert.ThrowsAsync<HubException>(() => bob.UpdateRoomSettingsAsync("private-one", new RoomSettingsUpdate(Topic: "mine now")));
        Assert.Contains("only the person who created it", notCreator.Message);
        var notMember = await Assert.ThrowsAsync<HubException>(() => mallory.UpdateRoomSettingsAsync("private-one", new RoomSettingsUpdate(Topic: "hi")));
        Assert.Contains("join room 'private-one'", notMember.Message);
        var bad = await Assert.ThrowsAsync<HubException>(() => alice.UpdateRoomSettingsAsync("private-one", new RoomSettingsUpdate(OnBusy: "explode")));
        Assert.Contains("onBusy must be", bad.Message);
        var tooLong = await Assert.ThrowsAsync<HubException>(() => alice.UpdateRoomSettingsAsync("private-one", new RoomSettingsUpdate(Topic: new string('x', 121))));
        Assert.Contains("120", tooLong.Message);

        var settings = await alice.UpdateRoomSettingsAsync("private-one", new RoomSettingsUpdate(Topic: "plans"));
        Assert.Equal(new RoomSettings(AssistantModes.Always, BusyModes.Queue, "plans"), settings);

        // The connection that was refused is still usable.
        Assert.Equal("plans", (await bob.JoinRoomAsync("private-one")).Settings.Topic);
    }

    [Fact]
    public async Task Typing_reaches_the_other_member_is_limited_and_is_never_replayed_by_resume()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceTyping = new List<TypingEvent>();
        var bobTyping = new List<TypingEvent>();
        var bobSaw = new TaskCompletionSource<TypingEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        alice.TypingReceived += e => { lock (aliceTyping) { aliceTyping.Add(e); } };
        bob.TypingReceived += e =>
        {
            lock (bobTyping)
            {
                bobTyping.Add(e);
            }

            bobSaw.TrySetResult(e);
        };
        var from = (await alice.JoinRoomAsync("typing")).LastSeq;
        await bob.JoinRoomAsync("typing");

        // A flood: the server lets at most one through per 2 seconds, and the connection stays usable.
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 200; i++)
        {
            await alice.TypingAsync("typing");
        }

        var elapsed = watch.Elapsed;
        var seen = await bobSaw.Task.WaitAsync(EventLog.DefaultTimeout);
        Assert.Equal(new TypingEvent("typing", alice.Session!.UserId, "alice"), seen);
        Assert.Equal(0, seen.Seq);
        var sent = await alice.SendMessageAsync("typing", "done typing");
        var bobLog = new EventLog(bob);
        await bobLog.WaitForFinalAsync(sent.GenerationId!);
        lock (bobTyping)
        {
            Assert.InRange(bobTyping.Count, 1, 1 + (int)(elapsed.TotalSeconds / 2));
        }

        Assert.Empty(aliceTyping);

        // Bob on another device resumes from before the typing: every room event again, and no typing.
        await using var laptop = new ChatClient(server.Url, bob.Session!.Token);
        await laptop.StartAsync();
        var laptopLog = new EventLog(laptop);
        var laptopTyping = 0;
        laptop.TypingReceived += _ => Interlocked.Increment(ref laptopTyping);
        var resumed = await laptop.ResumeAsync("typing", from);
        Assert.False(resumed.Reset);
        await laptopLog.WaitForFinalAsync(sent.GenerationId!);
        Assert.Equal(0, Volatile.Read(ref laptopTyping));
        StreamingTests.AssertContiguous(laptopLog.Events, from);

        var outsider = await server.ConnectAsync("mallory");
        Assert.Contains("join room 'typing'", (await Assert.ThrowsAsync<HubException>(() => outsider.TypingAsync("typing"))).Message);
    }

    [Fact]
    public async Task Regenerate_runs_a_new_reply_to_the_same_message_and_keeps_both_versions()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("again");
        var first = await alice.AskAsync("again", "please calculate 6*7");
        var firstFinal = await log.WaitForFinalAsync(first.GenerationId);

        var again = await alice.RegenerateAsync("again", firstFinal.MessageId!);
        Assert.Equal(first.MessageId, again.MessageId);
        var secondFinal = await log.WaitForFinalAsync(again.GenerationId!);
        Assert.Equal(GenerationStates.Completed, secondFinal.State);
        var started = (MessageEvent)await log.WaitForAsync(e => e is MessageEvent m && m.Message.MessageId == secondFinal.MessageId);
        Assert.Equal(firstFinal.MessageId, started.Message.Regenerates);

        // From the user message too: it replaces the latest reply to it.
        var third = await alice.RegenerateAsync("again", first.MessageId);
        var thirdFinal = await log.WaitForFinalAsync(third.GenerationId!);

        var history = (await alice.JoinRoomAsync("again")).Messages.Where(m => m.Role == MessageRoles.Assistant).ToList();
        Assert.Equal([firstFinal.MessageId, secondFinal.MessageId, thirdFinal.MessageId], history.Select(m => m.MessageId));
        Assert.All(history, m => Assert.Equal(first.MessageId, m.ReplyTo));
        Assert.Equal([null, firstFinal.MessageId, secondFinal.MessageId], history.Select(m => m.Regenerates));
        Assert.All(history, m => Assert.Contains("6*7 = 42", m.Text));

        Assert.Contains("no message 'm-nothing'", (await Assert.ThrowsAsync<HubException>(() => alice.RegenerateAsync("again", "m-nothing"))).Message);
    }
}
