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

    /// <summary>
    /// The same story on one node without Redis (the in-memory queue): SignalR closes the members'
    /// connections as soon as stopping begins, so the outcome is read where it is kept, in the record,
    /// from the node started again on the same database.
    /// </summary>
    [Fact]
    public async Task On_one_node_without_Redis_a_reply_still_running_after_the_drain_is_recorded_as_stopped_by_the_shutdown()
    {
        var folder = Directory.CreateTempSubdirectory("signalrchat-shutdown-").FullName;
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["Chat:Storage:Provider"] = "Sqlite",
                ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(folder, "chat.db")}",
                ["Chat:Offline:TokenDelayMs"] = "10",
                ["Chat:Offline:ReplyTokens"] = "3000",
                ["Chat:Generation:DrainTime"] = "00:00:00.5",
            };
            await using (var leaving = await ChatServer.StartAsync(settings))
            {
                var alice = await leaving.ConnectAsync("alice");
                var log = new EventLog(alice);
                await alice.JoinRoomAsync("redeploy");
                var reply = await alice.SendMessageAsync("redeploy", "a reply during a redeploy");
                await log.WaitForTokensAsync(reply.GenerationId!, 3);
            }

            await using var restarted = await ChatServer.StartAsync(settings);
            var bob = await restarted.ConnectAsync("bob");
            var kept = (await bob.JoinRoomAsync("redeploy")).Messages.Single(m => m.Role == MessageRoles.Assistant);
            Assert.Equal(MessageStates.Cancelled, kept.State);
            Assert.Null(kept.CancelledBy);
            Assert.False(string.IsNullOrEmpty(kept.Text));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
