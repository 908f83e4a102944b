using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>The server stopped and started again on the same port under connected clients: they rejoin their rooms and carry on.</summary>
public sealed class RestartTests
{
    private static readonly TimeSpan BackTimeout = TimeSpan.FromSeconds(60);

    // The same signing key on both runs, so the tokens the clients hold stay valid across the restart.
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Chat:Auth:SigningKey"] = "a-test-signing-key-that-is-long-enough-0123456789",
    };

    [Fact]
    public async Task After_a_restart_both_members_rejoin_and_see_each_others_message_and_its_reply()
    {
        const string room = "restart";
        var first = await ChatServer.StartAsync(Settings);
        var port = first.Url.Port;
        ChatServer? running = first;
        await using var alice = await ChatClient.ConnectAsGuestAsync(first.Url, "alice");
        await using var bob = await ChatClient.ConnectAsGuestAsync(first.Url, "bob");
        try
        {
            var aliceLog = new EventLog(alice);
            await alice.JoinRoomAsync(room);
            await bob.JoinRoomAsync(room);
            var before = await bob.AskAsync(room, "before the restart");
            await aliceLog.WaitForFinalAsync(before.GenerationId);
            var seqBefore = alice.LastSeq(room);

            var aliceBack = Rejoined(alice, room);
            var bobBack = Rejoined(bob, room);
            running = null;
            await first.DisposeAsync();
            running = await ChatServer.StartAsync(Settings, port: port);

            // In memory the room starts over: the new snapshot (seq from 1) is the position, not the higher one seen before.
            var aliceSnapshot = await aliceBack.WaitAsync(BackTimeout);
            await bobBack.WaitAsync(BackTimeout);
            // (Bob's presence may or may not have followed alice's snapshot by now; either way the position is the new room's.)
            Assert.True(aliceSnapshot.LastSeq < seqBefore);
            Assert.True(alice.LastSeq(room) < seqBefore);

            var after = await bob.AskAsync(room, "after the restart");
            var message = (MessageEvent)await aliceLog.WaitForAsync(e => e is MessageEvent m && m.Message.MessageId == after.MessageId);
            Assert.Equal("after the restart", message.Message.Text);
            var final = await aliceLog.WaitForFinalAsync(after.GenerationId);
            Assert.Equal(GenerationStates.Completed, final.State);
            Assert.Equal(final.Text, aliceLog.TextOf(after.GenerationId));
            Assert.Equal((await after.Completion).Text, final.Text);
        }
        finally
        {
            if (running is not null)
            {
                await running.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_reply_running_when_the_server_restarts_ends_for_its_reader_and_the_room_goes_on()
    {
        const string room = "restart-mid-reply";
        var settings = new Dictionary<string, string?>(Settings) { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "3000" };
        var first = await ChatServer.StartAsync(settings);
        var port = first.Url.Port;
        ChatServer? running = first;
        await using var alice = await ChatClient.ConnectAsGuestAsync(first.Url, "alice");
        try
        {
            var log = new EventLog(alice);
            await alice.JoinRoomAsync(room);
            var back = Rejoined(alice, room);
            var reply = await alice.AskAsync(room, "a long story");
            await log.WaitForTokensAsync(reply.GenerationId, 3);

            running = null;
            await first.DisposeAsync();
            running = await ChatServer.StartAsync(settings, port: port);
            await back.WaitAsync(BackTimeout);

            // Whether the stopping server's last status got out (cancelled) or the new one no longer has the reply (failed),
            // the reader is not left waiting, and the tokens it read end.
            var final = await reply.Completion.WaitAsync(BackTimeout);
            Assert.Contains(final.State, new[] { GenerationStates.Cancelled, GenerationStates.Failed });
            Assert.False(string.IsNullOrEmpty(final.Error));
            await foreach (var _ in reply.Tokens.WithCancellation(new CancellationTokenSource(BackTimeout).Token))
            {
            }

            var after = await alice.AskAsync(room, "still there?");
            await log.WaitForTokensAsync(after.GenerationId, 3);
            Assert.True(await after.StopAsync());
        }
        finally
        {
            if (running is not null)
            {
                await running.DisposeAsync();
            }
        }
    }

    private static Task<RoomSnapshot> Rejoined(ChatClient client, string room)
    {
        var done = new TaskCompletionSource<RoomSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.RoomReset += snapshot =>
        {
            if (snapshot.RoomId == room)
            {
                done.TrySetResult(snapshot);
            }
        };
        return done.Task;
    }
}
