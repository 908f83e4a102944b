using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Rooms;
using SignalRChat.Tests.Infrastructure;
using StackExchange.Redis;

namespace SignalRChat.Tests;

/// <summary>Rooms, memberships and streams are limited resources: a refusal names its key and creates nothing.</summary>
public sealed class RoomLimitTests
{
    private static Dictionary<string, string?> With(params (string Key, string Value)[] settings) =>
        settings.ToDictionary(s => s.Key, s => (string?)s.Value);

    private static HttpRequestMessage SseRequest(string roomId, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/rooms/{roomId}/events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static HttpRequestMessage PostRequest(string roomId, string token, string text, bool ndjson = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/rooms/{roomId}/messages") { Content = JsonContent.Create(new { text }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (ndjson)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        }

        return request;
    }

    [Fact]
    public async Task A_guest_looping_join_and_leave_of_fresh_rooms_is_refused_at_the_creation_limit_and_refused_joins_create_nothing()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:RoomsCreatedPerHour", "3"), ("Chat:Limits:MembershipChangesPerMinute", "1000")));
        var store = server.Services.GetRequiredService<IRoomStore>();
        var bob = await server.ConnectAsync("bob");
        await bob.JoinRoomAsync("lobby");
        var guest = await server.ConnectAsync("guest");
        for (var i = 0; i < 3; i++)
        {
            await guest.JoinRoomAsync($"spam-{i}");
            await guest.LeaveRoomAsync($"spam-{i}");
        }

        var refused = await Assert.ThrowsAsync<HubException>(() => guest.JoinRoomAsync("spam-3"));
        Assert.Contains("3 new rooms an hour", refused.Message);
        Assert.EndsWith("(Chat:Limits:RoomsCreatedPerHour)", refused.Message);
        await Assert.ThrowsAsync<HubException>(() => guest.CreateRoomAsync("spam-4"));

        Assert.False(await store.ExistsAsync("spam-3"));
        Assert.False(await store.ExistsAsync("spam-4"));
        var sender = server.Services.GetRequiredService<ConnectionRegistry>().Find(guest.Connection.ConnectionId!)!;
        Assert.False(sender.InRoom("spam-3"));

        // The connection stays usable, and joining a room that exists costs no creation.
        Assert.Equal(HubConnectionState.Connected, guest.State);
        var lobby = await guest.JoinRoomAsync("lobby");
        Assert.Contains(lobby.Members, m => m.Name == "bob");

        // Streams and posts to an unknown room are creations too, refused the same way, and leave no room.
        using var http = server.CreateHttpClient();
        using var sse = await http.SendAsync(SseRequest("spam-5", guest.Session!.Token), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.TooManyRequests, sse.StatusCode);
        Assert.Contains("Chat:Limits:RoomsCreatedPerHour", await sse.Content.ReadAsStringAsync());
        using var post = await http.SendAsync(PostRequest("spam-6", guest.Session.Token, "hello"));
        Assert.Equal(HttpStatusCode.TooManyRequests, post.StatusCode);
        Assert.Contains("Chat:Limits:RoomsCreatedPerHour", await post.Content.ReadAsStringAsync());
        Assert.False(await store.ExistsAsync("spam-5"));
        Assert.False(await store.ExistsAsync("spam-6"));
    }

    [Fact]
    public async Task Membership_changes_are_limited_per_minute_and_a_repeated_join_is_free_and_silent()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:MembershipChangesPerMinute", "4")));
        var bob = await server.ConnectAsync("bob");
        var bobLog = new RawEventLog(bob.Connection);
        await bob.JoinRoomAsync("hall");
        var guest = await server.ConnectAsync("guest");

        await guest.JoinRoomAsync("hall");
        for (var i = 0; i < 10; i++)
        {
            // Already in the room: no allowance spent, no presence for Bob.
            await guest.JoinRoomAsync("hall");
        }

        await guest.LeaveRoomAsync("hall");
        await guest.JoinRoomAsync("hall");
        await guest.LeaveRoomAsync("hall");
        var refused = await Assert.ThrowsAsync<HubException>(() => guest.JoinRoomAsync("hall"));
        Assert.Contains("4 joins and leaves a minute", refused.Message);
        Assert.EndsWith("(Chat:Limits:MembershipChangesPerMinute)", refused.Message);

        // Bob saw exactly two joins and two leaves of the guest, and the room still carries on.
        var marker = await bob.SendMessageAsync("hall", "still here");
        await bobLog.WaitForAsync(e => e is MessageEvent m && m.Message.MessageId == marker.MessageId);
        var presence = bobLog.Events.OfType<PresenceEvent>().Where(p => p.Name == "guest").Select(p => p.State).ToList();
        Assert.Equal([PresenceStates.Joined, PresenceStates.Left, PresenceStates.Joined, PresenceStates.Left], presence);
        Assert.DoesNotContain((await bob.JoinRoomAsync("hall")).Members, m => m.Name == "guest");
        Assert.Equal(HubConnectionState.Connected, guest.State);
    }

    [Fact]
    public async Task With_Redis_the_creation_limit_holds_across_nodes_and_a_refused_join_leaves_no_key()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings()) { ["Chat:Limits:RoomsCreatedPerHour"] = "2" };
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var onA = await nodeA.ConnectAsync("alice");
        await using var onB = new ChatClient(nodeB.Url, onA.Session!.Token);
        await onB.StartAsync();

        await onA.JoinRoomAsync("first");
        await onB.JoinRoomAsync("second");
        var refused = await Assert.ThrowsAsync<HubException>(() => onA.JoinRoomAsync("third"));
        Assert.EndsWith("(Chat:Limits:RoomsCreatedPerHour)", refused.Message);
        await Assert.ThrowsAsync<HubException>(() => onB.JoinRoomAsync("third"));

        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var keys = admin.GetServer(admin.GetEndPoints()[0]).Keys(pattern: "chat:{room:third}*").ToList();
        Assert.Empty(keys);
        Assert.NotEmpty(admin.GetServer(admin.GetEndPoints()[0]).Keys(pattern: "chat:{room:second}*").ToList());
    }

    [Fact]
    public async Task Http_streams_count_toward_the_connections_a_user_may_hold()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:MaxConnectionsPerUser", "2")));
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("streams");
        using var http = server.CreateHttpClient();

        using var first = await http.SendAsync(SseRequest("streams", alice.Session!.Token), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var second = await http.SendAsync(SseRequest("streams", alice.Session.Token), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Contains("connection limit: 2 connections per user (Chat:Limits:MaxConnectionsPerUser)", await second.Content.ReadAsStringAsync());

        // An NDJSON reply stream is one too, and a refused one posts nothing.
        using var ndjson = await http.SendAsync(PostRequest("streams", alice.Session.Token, "not sent", ndjson: true), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.TooManyRequests, ndjson.StatusCode);
        Assert.DoesNotContain((await alice.JoinRoomAsync("streams")).Messages, m => m.Text == "not sent");

        // And a hub connection past the limit is refused while the stream is open.
        await using var another = new ChatClient(server.Url, alice.Session.Token);
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        another.Connection.Closed += error =>
        {
            closed.TrySetResult(error);
            return Task.CompletedTask;
        };
        string refusal;
        try
        {
            await another.StartAsync();
            refusal = (await closed.Task.WaitAsync(EventLog.DefaultTimeout))?.Message ?? "closed without an error";
        }
        catch (Exception ex)
        {
            refusal = ex.Message;
        }

        Assert.Contains("(Chat:Limits:MaxConnectionsPerUser)", refusal);
        Assert.Equal(HubConnectionState.Connected, alice.State);
    }

    [Fact]
    public async Task One_client_address_may_hold_only_so_many_streams()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Streams:MaxPerAddress", "2")));
        using var http = server.CreateHttpClient();
        var responses = new List<HttpResponseMessage>();
        try
        {
            foreach (var name in new[] { "one", "two", "three" })
            {
                var session = await ChatClient.SignInAsGuestAsync(server.Url, name);
                responses.Add(await http.SendAsync(SseRequest("lobby", session.Token), HttpCompletionOption.ResponseHeadersRead));
            }

            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], responses.Select(r => r.StatusCode));
            Assert.Contains("2 open streams per client address (Chat:Streams:MaxPerAddress)", await responses[2].Content.ReadAsStringAsync());
        }
        finally
        {
            responses.ForEach(r => r.Dispose());
        }
    }

    [Fact]
    public async Task A_refused_post_creates_no_room()
    {
        await using var server = await ChatServer.StartAsync(With(("Chat:Limits:MessagesPerMinute", "1")));
        var store = server.Services.GetRequiredService<IRoomStore>();
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "poster");
        using var http = server.CreateHttpClient();

        using var accepted = await http.SendAsync(PostRequest("posted", session.Token, "first"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        using var refused = await http.SendAsync(PostRequest("never", session.Token, "second"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("Chat:Limits:MessagesPerMinute", await refused.Content.ReadAsStringAsync());
        using var empty = await http.SendAsync(PostRequest("never-either", session.Token, " "));
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);

        Assert.True(await store.ExistsAsync("posted"));
        Assert.False(await store.ExistsAsync("never"));
        Assert.False(await store.ExistsAsync("never-either"));
    }
}
