using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>SIGTERM: no new replies, running ones get the drain time to finish, the rest stop with a clear status.</summary>
public sealed class ShutdownTests
{
    [Theory]
    [InlineData("00:00:30", GenerationStates.Completed)]
    [InlineData("00:00:00.5", GenerationStates.Cancelled)]
    public async Task A_node_told_to_stop_lets_its_reply_finish_within_the_drain_time_then_stops_it_with_a_reason(string drainTime, string expected)
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings())
        {
            ["Chat:Offline:TokenDelayMs"] = "10",
            ["Chat:Offline:ReplyTokens"] = expected == GenerationStates.Completed ? "150" : "3000",
            ["Chat:Generation:DrainTime"] = drainTime,
        };
        await using var leaving = await ServerProcess.StartAsync(settings);
        await using var staying = await ChatServer.StartAsync(redis.NodeSettings());
        await using var alice = await ChatClient.ConnectAsGuestAsync(leaving.Url, "alice");
        var bob = await staying.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("redeploy");
        await bob.JoinRoomAsync("redeploy");

        var reply = await alice.SendMessageAsync("redeploy", "a reply during a redeploy");
        await bobLog.WaitForTokensAsync(reply.GenerationId!, 3);
        await leaving.TerminateAsync(TimeSpan.FromSeconds(45));

        var final = await bobLog.WaitForFinalAsync(reply.GenerationId!);
        Assert.Equal(expected, final.State);
        Assert.Equal(final.Text, bobLog.TextOf(reply.GenerationId!));
        if (expected == GenerationStates.Cancelled)
        {
            Assert.Equal("the server shut down before the reply finished", final.Error);
            Assert.Equal(CancelReasons.Shutdown, final.Reason);
            Assert.Null(final.CancelledBy);
        }

        // The room is not left waiting on the node that went away.
        var next = await bob.AskAsync("redeploy", "are you still there?");
        Assert.Equal(GenerationStates.Completed, (await bobLog.WaitForFinalAsync(next.GenerationId)).State);
    }
}
