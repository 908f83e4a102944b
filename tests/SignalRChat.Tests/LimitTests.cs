using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Each limit refuses with a message naming it; the refused connection and everybody else carry on.</summary>
public sealed class LimitTests
{
    private static Dictionary<string, string?> With(params (string Key, string Value)[] settings) =>
        settings.ToDictionary(s => s.Key, s => (string?)s.Value);

    [Fact]
    public async Task A_burst_of_messages_is_limited_with_a_readable_error_and_the_connection_stays_usable()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:MessagesPerMinute", "3")));
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        await alice.JoinRoomAsync("burst");
        await bob.JoinRoomAsync("burst");

        for (var i = 0; i < 3; i++)
        {
            await alice.SendMessageAsync("burst", $"message {i}");
        }

        var before = await bob.JoinRoomAsync("burst");
        var error = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("burst", "one too many"));
        Assert.Matches(@"HubException: rate limit: 3 messages a minute, try again in \d+ s \(Chat:Limits:MessagesPerMinute\)$", error.Message);
        Assert.DoesNotContain((await bob.JoinRoomAsync("burst")).Messages, m => m.Text == "one too many");
        Assert.True(before.Messages.Count(m => m.Role == MessageRoles.User) == 3);

        // Alice's connection still works for everything else; Bob has his own bucket.
        Assert.Equal(HubConnectionState.Connected, alice.State);
        Assert.Equal("other", (await alice.JoinRoomAsync("other")).RoomId);
        Assert.False(string.IsNullOrEmpty((await bob.SendMessageAsync("burst", "my turn")).GenerationId));
    }

    [Fact]
    public async Task A_user_may_hold_only_so_many_connections()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:MaxConnectionsPerUser", "2")));
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        await using var first = new ChatClient(server.Url, session.Token);
        await using var second = new ChatClient(server.Url, session.Token);
        await using var third = new ChatClient(server.Url, session.Token);
        await first.StartAsync();
        await second.StartAsync();
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        third.Connection.Closed += error =>
        {
            closed.TrySetResult(error);
            return Task.CompletedTask;
        };

        var refused = await StartOrCloseAsync(third, closed);

        Assert.Contains("connection limit: 2 connections per user (Chat:Limits:MaxConnectionsPerUser)", refused);
        Assert.Equal(HubConnectionState.Disconnected, third.State);
        Assert.Equal("r", (await second.JoinRoomAsync("r")).RoomId);

        // Closing one makes room for another.
        await first.DisposeAsync();
        await using var fourth = new ChatClient(server.Url, session.Token);
        await fourth.StartAsync();
        Assert.Equal("r", (await fourth.JoinRoomAsync("r")).RoomId);
    }

    [Theory]
    [InlineData(BackendNode.Memory)]
    [InlineData(BackendNode.Redis)]
    public async Task A_node_generates_only_so_many_replies_at_once_and_rooms_with_a_running_reply_still_queue(string backend)
    {
        await using var node = await BackendNode.StartAsync(backend, With(("Chat:Limits:MaxConcurrentGenerationsPerNode", "1"),
            ("Chat:Offline:TokenDelayMs", "10"), ("Chat:Offline:ReplyTokens", "100")));
        var server = node.Server;
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("first");
        await bob.JoinRoomAsync("second");

        var running = await alice.AskAsync("first", "a long one");
        var error = await Assert.ThrowsAsync<HubException>(() => bob.SendMessageAsync("second", "me too"));
        Assert.Contains("Chat:Limits:MaxConcurrentGenerationsPerNode", error.Message);
        Assert.Contains("HubException: busy: this server already generates 1 replies at once", error.Message);
        var queued = await alice.SendMessageAsync("first", "and then this");

        Assert.True(await alice.CancelGenerationAsync(running.GenerationId));
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(queued.GenerationId!)).State);
        var bobLog = new EventLog(bob);
        var later = await bob.SendMessageAsync("second", "now?");
        Assert.Equal(GenerationStates.Completed, (await bobLog.WaitForFinalAsync(later.GenerationId!)).State);
    }

    [Fact]
    public async Task A_users_daily_token_budget_counts_the_replies_they_asked_for()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:DailyTokensPerUser", "15"), ("Chat:Offline:ReplyTokens", "20")));
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("budget");
        await bob.JoinRoomAsync("budget");

        // The prompt alone is close to the budget: the reply is stopped while it streams (see CostTests).
        var first = await alice.SendMessageAsync("budget", "hello");
        var final = await log.WaitForFinalAsync(first.GenerationId!);
        Assert.Equal(CancelReasons.Limit, final.Reason);

        var error = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("budget", "more please"));
        Assert.Matches(@"HubException: daily token budget: your replies used \d+ of 15 model tokens today \(Chat:Limits:DailyTokensPerUser\), try again after 00:00 UTC, in \d+ h \d+ min$", error.Message);

        // Bob read the same reply but did not ask for it: his message is accepted and spends his own budget.
        var bobs = await bob.SendMessageAsync("budget", "my question");
        Assert.Equal(CancelReasons.Limit, (await log.WaitForFinalAsync(bobs.GenerationId!)).Reason);
        Assert.Equal(HubConnectionState.Connected, alice.State);
    }

    [Fact]
    public async Task A_room_queues_only_so_many_replies()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:MaxQueuedGenerationsPerRoom", "1"),
            ("Chat:Offline:TokenDelayMs", "10"), ("Chat:Offline:ReplyTokens", "100")));
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("queue");

        var running = await alice.SendMessageAsync("queue", "one");
        await alice.SendMessageAsync("queue", "two");
        var error = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("queue", "three"));

        Assert.Contains("already has 1 replies waiting (Chat:Limits:MaxQueuedGenerationsPerRoom)", error.Message);
        Assert.True(await alice.CancelGenerationAsync(running.GenerationId!));
    }

    [Fact]
    public async Task A_connection_joins_only_so_many_rooms()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:MaxRoomsPerConnection", "2")));
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("a");
        await alice.JoinRoomAsync("b");

        var error = await Assert.ThrowsAsync<HubException>(() => alice.JoinRoomAsync("c"));

        Assert.Contains("already in 2 rooms (Chat:Limits:MaxRoomsPerConnection)", error.Message);
        await alice.LeaveRoomAsync("a");
        Assert.Equal("c", (await alice.JoinRoomAsync("c")).RoomId);
    }

    [Fact]
    public async Task Guest_sign_ins_from_one_address_are_limited_so_a_script_cannot_shed_its_limits_by_signing_in_again()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:GuestSignInsPerMinute", "3")));
        using var http = server.CreateHttpClient();
        var sessions = new List<GuestSession>();
        for (var i = 0; i < 3; i++)
        {
            sessions.Add(await ChatClient.SignInAsGuestAsync(server.Url, $"guest{i}", http));
        }

        var refused = await http.PostAsJsonAsync("/api/auth/guest", new { name = "one-more" });

        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Matches(@"rate limit: 3 guest sign-ins a minute from one address, try again in \d+ s \(Chat:Limits:GuestSignInsPerMinute\)",
            await refused.Content.ReadAsStringAsync());
        await using var signedIn = new ChatClient(server.Url, sessions[0].Token);
        await signedIn.StartAsync();
        Assert.Equal("r", (await signedIn.JoinRoomAsync("r")).RoomId);
    }

    [Theory]
    [InlineData("Chat:Limits:GuestSignInsPerMinute", "-1")]
    [InlineData("Chat:Limits:MessagesPerMinute", "0")]
    [InlineData("Chat:Limits:MaxConcurrentGenerationsPerNode", "0")]
    [InlineData("Chat:Limits:MaxConnectionsPerUser", "0")]
    [InlineData("Chat:Limits:DailyTokensPerUser", "-1")]
    public async Task A_nonsensical_limit_stops_start_up_and_names_the_key(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(With((key, value))));

        Assert.Contains(key, error.Message);
    }

    private static async Task<string> StartOrCloseAsync(ChatClient client, TaskCompletionSource<Exception?> closed)
    {
        try
        {
            await client.StartAsync();
        }
        catch (Exception ex)
        {
            return ex.Message;
        }

        var error = await closed.Task.WaitAsync(EventLog.DefaultTimeout);
        return error?.Message ?? "closed without an error";
    }
}
