using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Room settings, typing, interrupt and regenerate with members on two nodes sharing a real redis-server.</summary>
public sealed class CollaborationScaleOutTests
{
    [Fact]
    public async Task Settings_typing_interrupt_and_regenerate_work_across_nodes()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "400" };
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var bobTyping = new TaskCompletionSource<TypingEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        bob.TypingReceived += e => bobTyping.TrySetResult(e);
        await alice.JoinRoomAsync("both");
        await bob.JoinRoomAsync("both");

        // Settings changed on node B hold for a message sent on node A.
        await bob.UpdateRoomSettingsAsync("both", new RoomSettingsUpdate(Assistant: AssistantModes.Mentioned, OnBusy: BusyModes.Interrupt));
        await aliceLog.WaitForAsync(e => e is RoomSettingsEvent { Settings.OnBusy: BusyModes.Interrupt });
        Assert.Null((await alice.SendMessageAsync("both", "just us")).GenerationId);

        // Typing on node A reaches bob on node B, without a seq.
        await alice.TypingAsync("both");
        var typing = await bobTyping.Task.WaitAsync(EventLog.DefaultTimeout);
        Assert.Equal(("alice", 0L), (typing.Name, typing.Seq));

        // A reply runs on node A; bob's mention on node B interrupts it in his name.
        var first = await alice.SendMessageAsync("both", "@assistant tell me a long story");
        await bobLog.WaitForTokensAsync(first.GenerationId!, 3);
        var second = await bob.SendMessageAsync("both", "@assistant short one instead");
        var stopped = await aliceLog.WaitForFinalAsync(first.GenerationId!);
        Assert.Equal((GenerationStates.Cancelled, CancelReasons.Interrupted, "bob"), (stopped.State, stopped.Reason, stopped.CancelledBy?.Name));
        var answered = await aliceLog.WaitForFinalAsync(second.GenerationId!, TimeSpan.FromSeconds(60));
        Assert.Equal(GenerationStates.Completed, answered.State);

        // Alice regenerates bob's reply on node A: a new version names the old one, and both stay.
        var again = await alice.RegenerateAsync("both", answered.MessageId!);
        var regenerated = await bobLog.WaitForFinalAsync(again.GenerationId!, TimeSpan.FromSeconds(60));
        Assert.Equal(GenerationStates.Completed, regenerated.State);
        var history = (await bob.JoinRoomAsync("both")).Messages;
        var newest = history.Single(m => m.MessageId == regenerated.MessageId);
        Assert.Equal((answered.MessageId, second.MessageId), (newest.Regenerates, newest.ReplyTo));
        Assert.Contains(history, m => m.MessageId == answered.MessageId && m.State == MessageStates.Completed);
        Assert.Equal("bob", history.Single(m => m.MessageId == stopped.MessageId).CancelledBy?.Name);
    }
}
