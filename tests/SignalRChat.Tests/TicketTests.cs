using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// Single-use tickets for the query string: <c>POST /api/auth/ticket</c> with the token in the header answers a ticket
/// that opens one hub connection or event stream as that session, for <c>Chat:Auth:TicketLifetime</c>. A used, expired
/// or forged ticket gets 401 saying why; with Redis a ticket used on one node is refused on every other.
/// </summary>
public sealed class TicketTests
{
    [Fact]
    public async Task A_ticket_opens_one_hub_connection_of_the_stock_client_as_its_session_and_is_refused_the_second_time()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        using var http = server.CreateHttpClient();

        var before = DateTimeOffset.UtcNow;
        var ticket = await GetTicketAsync(http, alice.Token);
        Assert.InRange(ticket.ExpiresAt, before, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(31));
        Assert.DoesNotContain(alice.Token, ticket.Ticket, StringComparison.Ordinal);

        await using var first = TicketConnection(server, ticket.Ticket);
        await first.StartAsync();
        var snapshot = await first.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, "lobby");
        Assert.Equal([(alice.UserId, "alice")], snapshot.Members.Select(m => (m.UserId, m.Name)));

        // The same ticket again: on the hub, and on the event stream, where the answer says why.
        await using var second = TicketConnection(server, ticket.Ticket);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => second.StartAsync());
        Assert.Contains("401", refused.Message, StringComparison.Ordinal);
        using var again = await http.GetAsync($"/api/rooms/lobby/events?access_token={ticket.Ticket}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
        Assert.Contains("the ticket was used already", await ErrorOf(again), StringComparison.Ordinal);

        // The first connection is not disturbed by the refused ones.
        Assert.Equal(HubConnectionState.Connected, first.State);
        await first.InvokeAsync<SendMessageResult>(ChatProtocol.Methods.SendMessage, "lobby", "@nobody still here");
    }

    [Fact]
    public async Task A_fresh_ticket_opens_the_event_stream_and_the_token_in_the_query_still_works()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        using var http = server.CreateHttpClient();

        var ticket = await GetTicketAsync(http, alice.Token);
        using (var stream = await http.GetAsync($"/api/rooms/sse/events?access_token={ticket.Ticket}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
            Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        }

        // Clients that send the session token in the query keep working.
        using var token = await http.GetAsync($"/api/rooms/sse/events?access_token={alice.Token}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
    }

    [Fact]
    public async Task Forged_tickets_tickets_in_a_header_and_tickets_bought_with_a_query_token_are_refused()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        using var http = server.CreateHttpClient();
        var ticket = (await GetTicketAsync(http, alice.Token)).Ticket;

        // Another signature, and another node's key.
        var forged = ticket[..^4] + (ticket[^4] == 'A' ? "BBBB" : "AAAA");
        await using var other = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:SigningKey"] = "another-signing-key-of-more-than-32-bytes!" });
        var foreign = await ChatClient.SignInAsGuestAsync(other.Url, "mallory");
        using var otherHttp = other.CreateHttpClient();
        var foreignTicket = (await GetTicketAsync(otherHttp, foreign.Token)).Ticket;
        foreach (var bad in new[] { forged, foreignTicket })
        {
            using var response = await http.GetAsync($"/api/rooms/lobby/events?access_token={bad}", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("the ticket is not valid", await ErrorOf(response), StringComparison.Ordinal);
        }

        // A ticket is not a bearer token: refused in the header of other routes, on the ticket route too (no ticket buys another).
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/rooms"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ticket);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/ticket"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ticket);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);
        }

        // The ticket route reads the header only: a token in its query string buys nothing.
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync($"/api/auth/ticket?access_token={alice.Token}", null)).StatusCode);

        // None of it used the real ticket up. A client that can set headers may send it there on the stream's route.
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/rooms/lobby/events"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ticket);
            using var good = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        }

        using var reused = await http.GetAsync($"/api/rooms/lobby/events?access_token={ticket}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Contains("the ticket was used already", await ErrorOf(reused), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_ticket_is_refused_saying_so_and_its_used_mark_is_let_go()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Auth:TicketLifetime"] = "00:00:01",
            ["Chat:Auth:ClockSkew"] = "00:00:00",
        });
        var alice = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        using var http = server.CreateHttpClient();
        var ledger = (InMemoryTicketLedger)server.Services.GetRequiredService<ITicketLedger>();

        var used = await GetTicketAsync(http, alice.Token);
        using (var stream = await http.GetAsync($"/api/rooms/lobby/events?access_token={used.Ticket}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        }

        Assert.Equal(1, ledger.Count);
        var unused = await GetTicketAsync(http, alice.Token);
        // Both are past their expiry, and a sweep of the ledger (at most once a second) is due.
        await WaitUntilAsync(Later(used.ExpiresAt, unused.ExpiresAt) + TimeSpan.FromSeconds(1));

        using var expired = await http.GetAsync($"/api/rooms/lobby/events?access_token={unused.Ticket}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains("the ticket has expired", await ErrorOf(expired), StringComparison.Ordinal);

        // A new ticket's use sweeps the expired mark away: the ledger holds only what is still valid.
        var fresh = await GetTicketAsync(http, alice.Token);
        using (var stream = await http.GetAsync($"/api/rooms/lobby/events?access_token={fresh.Ticket}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        }

        Assert.Equal(1, ledger.Count);
    }

    [Fact]
    public async Task A_ticket_never_outlives_the_token_it_was_bought_with()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Auth:TokenLifetime"] = "00:00:20",
            ["Chat:Auth:TicketLifetime"] = "00:05:00",
        });
        var alice = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        using var http = server.CreateHttpClient();

        var ticket = await GetTicketAsync(http, alice.Token);

        var tokenExpiry = DateTimeOffset.FromUnixTimeSeconds(JsonDocument.Parse(Base64Url(alice.Token.Split('.')[1])).RootElement.GetProperty("exp").GetInt64());
        Assert.Equal(tokenExpiry, ticket.ExpiresAt);
    }

    [Fact]
    public async Task With_Redis_a_ticket_used_on_one_node_is_refused_on_the_other()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var alice = await ChatClient.SignInAsGuestAsync(nodeA.Url, "alice");
        using var httpA = nodeA.CreateHttpClient();
        using var httpB = nodeB.CreateHttpClient();

        var ticket = await GetTicketAsync(httpA, alice.Token);
        await using var onA = TicketConnection(nodeA, ticket.Ticket);
        await onA.StartAsync();
        await onA.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, "shared");

        await using var onB = TicketConnection(nodeB, ticket.Ticket);
        Assert.Contains("401", (await Assert.ThrowsAnyAsync<Exception>(() => onB.StartAsync())).Message, StringComparison.Ordinal);
        using var refused = await httpB.GetAsync($"/api/rooms/shared/events?access_token={ticket.Ticket}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("the ticket was used already", await ErrorOf(refused), StringComparison.Ordinal);

        // A ticket from A that nobody used opens a connection on B, as the same person.
        await using var fresh = TicketConnection(nodeB, (await GetTicketAsync(httpA, alice.Token)).Ticket);
        await fresh.StartAsync();
        var snapshot = await fresh.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, "shared");
        Assert.Equal([alice.UserId], snapshot.Members.Select(m => m.UserId));
    }

    [Fact]
    public async Task Tickets_are_limited_per_user_a_minute_and_the_token_in_the_header_still_works()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:TicketsPerMinute"] = "2" });
        var alice = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        var bob = await ChatClient.SignInAsGuestAsync(server.Url, "bob");
        using var http = server.CreateHttpClient();
        await GetTicketAsync(http, alice.Token);
        await GetTicketAsync(http, alice.Token);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/ticket");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", alice.Token);
        using var refused = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("rate limit: 2 tickets a minute", await ErrorOf(refused), StringComparison.Ordinal);
        Assert.Contains("Chat:Auth:TicketsPerMinute", await ErrorOf(refused), StringComparison.Ordinal);

        // Another person is not affected, and Alice still connects with her token in the header.
        await GetTicketAsync(http, bob.Token);
        await using var client = new ChatClient(server.Url, alice.Token);
        await client.StartAsync();
        Assert.Equal("lobby", (await client.JoinRoomAsync("lobby")).RoomId);
    }

    [Fact]
    public async Task A_ticket_limit_below_one_stops_start_up_naming_the_key()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:TicketsPerMinute"] = "0" }));
        Assert.Contains("Chat:Auth:TicketsPerMinute", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:30:00")]
    public async Task A_ticket_lifetime_out_of_range_stops_start_up_naming_the_key(string lifetime)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:TicketLifetime"] = lifetime }));
        Assert.Contains("Chat:Auth:TicketLifetime", failure.Message, StringComparison.Ordinal);
    }

    private sealed record IssuedTicket(string Ticket, DateTimeOffset ExpiresAt);

    private static async Task<IssuedTicket> GetTicketAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/ticket");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<IssuedTicket>())!;
    }

    /// <summary>The stock .NET client as a browser connects: one WebSocket, the ticket in <c>?access_token=</c>, no negotiate.</summary>
    private static HubConnection TicketConnection(ChatServer server, string ticket) =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(server.Url, ChatProtocol.HubPath + "?access_token=" + Uri.EscapeDataString(ticket)), options =>
            {
                options.SkipNegotiation = true;
                options.Transports = HttpTransportType.WebSockets;
            })
            .Build();

    private static async Task<string> ErrorOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    // Waits for the clock to pass an instant the server named; bounded, so a stuck clock fails the test.
    private static async Task WaitUntilAsync(DateTimeOffset instant)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTimeOffset.UtcNow <= instant)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"the clock did not reach {instant:O}");
            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }
    }

    private static byte[] Base64Url(string text) => Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/').PadRight(text.Length + (4 - text.Length % 4) % 4, '='));
}
