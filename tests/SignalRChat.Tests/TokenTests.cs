using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Forged, expired and misplaced tokens are refused; good ones are refreshed; an external issuer can be trusted.</summary>
public sealed class TokenTests
{
    private const string Key = "a-signing-key-of-at-least-thirty-two-bytes!";
    private const string NegotiatePath = "/hubs/chat/negotiate?negotiateVersion=1";

    private static readonly Dictionary<string, string?> KeyedServer = new() { ["Chat:Auth:SigningKey"] = Key };

    public static TheoryData<string> Forgeries => ["alg-none", "other-key", "tampered-claims", "expired", "not-yet-valid", "wrong-issuer", "wrong-audience", "no-expiry", "garbage"];

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_forged_or_expired_token_gets_401_on_the_hub_and_on_REST(string forgery)
    {
        await using var server = await ChatServer.StartAsync(KeyedServer);
        using var http = server.CreateHttpClient();
        var token = Forge(forgery, server.Url);

        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWithBearer(http, NegotiatePath, token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWithBearer(http, "/api/auth/refresh", token)).StatusCode);

        await using var client = new ChatClient(server.Url, token);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.StartAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
    }

    [Fact]
    public async Task A_genuine_token_made_the_same_way_as_the_forgeries_is_accepted()
    {
        await using var server = await ChatServer.StartAsync(KeyedServer);
        using var http = server.CreateHttpClient();
        var token = Sign(Claims("u-genuine", "Gene"), Key, "signalrchat", "signalrchat", DateTime.UtcNow.AddMinutes(5));

        Assert.Equal(HttpStatusCode.OK, (await PostWithBearer(http, NegotiatePath, token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostWithBearer(http, "/api/auth/refresh", token)).StatusCode);
    }

    [Fact]
    public async Task Only_HS256_is_accepted_even_when_another_algorithm_uses_the_right_key()
    {
        var longKey = new string('k', 80);
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:SigningKey"] = longKey });
        using var http = server.CreateHttpClient();
        var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(longKey));

        string Signed(string algorithm) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "signalrchat",
            Audience = "signalrchat",
            Expires = DateTime.UtcNow.AddMinutes(5),
            Subject = Claims("u-alg", "alg"),
            SigningCredentials = new SigningCredentials(key, algorithm),
        });

        Assert.Equal(HttpStatusCode.OK, (await PostWithBearer(http, NegotiatePath, Signed(SecurityAlgorithms.HmacSha256))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWithBearer(http, NegotiatePath, Signed(SecurityAlgorithms.HmacSha384))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWithBearer(http, NegotiatePath, Signed(SecurityAlgorithms.HmacSha512))).StatusCode);
    }

    [Fact]
    public async Task The_access_token_query_parameter_is_accepted_on_the_hub_and_refused_elsewhere()
    {
        await using var server = await ChatServer.StartAsync(KeyedServer);
        using var http = server.CreateHttpClient();
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "alice", http);
        var query = "access_token=" + Uri.EscapeDataString(session.Token);

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"{NegotiatePath}&{query}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync($"/api/auth/refresh?{query}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostWithBearer(http, "/api/auth/refresh", session.Token)).StatusCode);
    }

    [Theory]
    [InlineData("/hubs/chat", true)]
    [InlineData("/hubs/chat/negotiate", true)]
    [InlineData("/api/rooms/lobby/events", true)]
    [InlineData("/api/rooms/lobby/events/extra", false)]
    [InlineData("/api/rooms/lobby/messages", false)]
    [InlineData("/api/rooms//events", false)]
    [InlineData("/api/rooms/events", false)]
    [InlineData("/api/auth/refresh", false)]
    [InlineData("/hubs/chatty", false)]
    public void Query_tokens_are_read_on_the_hub_and_the_event_stream_route_only(string path, bool allowed) =>
        Assert.Equal(allowed, BearerTokens.MayCarryQueryToken(new PathString(path)));

    [Fact]
    public async Task Refresh_gives_a_new_token_for_the_same_user_and_name()
    {
        await using var server = await ChatServer.StartAsync(KeyedServer);
        using var http = server.CreateHttpClient();
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "alice", http);

        var response = await PostWithBearer(http, "/api/auth/refresh", session.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var refreshed = await response.Content.ReadFromJsonAsync<GuestSession>();
        Assert.NotNull(refreshed);
        Assert.Equal(session.UserId, refreshed.UserId);
        Assert.Equal("alice", refreshed.Name);
        var token = new JsonWebToken(refreshed.Token);
        Assert.Equal(session.UserId, token.Subject);
        Assert.Equal("alice", token.GetClaim("name").Value);
        Assert.True(token.ValidTo >= new JsonWebToken(session.Token).ValidTo);
    }

    [Fact]
    public async Task The_client_refreshes_its_token_before_it_expires_and_reconnects_with_the_fresh_one()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>(KeyedServer)
        {
            ["Chat:Auth:TokenLifetime"] = "00:00:04",
            ["Chat:Auth:ClockSkew"] = "00:00:00",
        });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("fresh");
        var first = alice.AccessToken;
        var states = new List<Microsoft.AspNetCore.SignalR.Client.HubConnectionState>();
        alice.StateChanged += state => { lock (states) { states.Add(state); } };
        var refreshed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        alice.TokenRefreshed += token => refreshed.TrySetResult(token);

        var second = await refreshed.Task.WaitAsync(EventLog.DefaultTimeout);

        Assert.NotEqual(first, second);
        Assert.Equal(second, alice.AccessToken);
        lock (states)
        {
            Assert.Empty(states);
        }

        // The server closes the connection; the client connects afresh with the token it holds now.
        // (A dropped socket alone is bridged by stateful reconnect on the same connection and token.)
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sawReconnecting = false;
        alice.StateChanged += state =>
        {
            sawReconnecting |= state == Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Reconnecting;
            if (sawReconnecting && state == Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Connected)
            {
                reconnected.TrySetResult();
            }
        };
        server.CloseConnectionsOf(alice.Session!.UserId);
        await reconnected.Task.WaitAsync(EventLog.DefaultTimeout);
        var expiries = server.TokenExpiriesOf(alice.Session.UserId);
        Assert.Single(expiries);
        Assert.True(expiries[0] > new JsonWebToken(first).ValidTo);

        var reply = await alice.AskAsync("fresh", "still me?");
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(reply.GenerationId)).State);
    }

    [Fact]
    public async Task Tokens_of_a_configured_external_issuer_are_accepted_next_to_our_own()
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>(KeyedServer)
        {
            ["Chat:Auth:Authority"] = idp.Authority,
            ["Chat:Auth:RequireHttpsMetadata"] = "false",
            ["Chat:Auth:AllowGuests"] = "true",
        });
        using var http = server.CreateHttpClient();

        await using var erin = new ChatClient(server.Url, idp.Issue("ext-erin", "Erin", "signalrchat"));
        await erin.StartAsync();
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("mixed");
        var snapshot = await erin.JoinRoomAsync("mixed");
        // Erin's id lives in her issuer's namespace, apart from every guest id.
        var erinId = ExternalUserIds.For(idp.Authority, "ext-erin");
        Assert.Contains(snapshot.Members, m => m.UserId == erinId && m.Name == "Erin");

        // A name the guest rules would refuse is replaced by the user id.
        await using var eve = new ChatClient(server.Url, idp.Issue("ext-eve", "\u202Eevil", "signalrchat"));
        await eve.StartAsync();
        var eveId = ExternalUserIds.For(idp.Authority, "ext-eve");
        Assert.Contains((await eve.JoinRoomAsync("mixed")).Members, m => m.UserId == eveId && m.Name == eveId);

        // Our refresh is for our tokens only.
        var refresh = await PostWithBearer(http, "/api/auth/refresh", idp.Issue("ext-erin", "Erin", "signalrchat"));
        Assert.Equal(HttpStatusCode.BadRequest, refresh.StatusCode);
        Assert.Contains("identity provider", await refresh.Content.ReadAsStringAsync());

        using var forger = System.Security.Cryptography.RSA.Create(2048);
        var forged = idp.Issue("ext-erin", "Erin", "signalrchat", signWith: new RsaSecurityKey(forger) { KeyId = "test-key-1" });
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWithBearer(http, NegotiatePath, forged)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWithBearer(http, NegotiatePath, idp.Issue("ext-erin", "Erin", "another-app"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWithBearer(http, NegotiatePath, idp.Issue("ext-erin", "Erin", "signalrchat", TimeSpan.FromMinutes(-10)))).StatusCode);
    }

    [Fact]
    public async Task With_guests_switched_off_only_external_tokens_get_in()
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>(KeyedServer)
        {
            ["Chat:Auth:Authority"] = idp.Authority,
            ["Chat:Auth:RequireHttpsMetadata"] = "false",
            ["Chat:Auth:AllowGuests"] = "false",
        });
        using var http = server.CreateHttpClient();

        var guest = await http.PostAsJsonAsync("/api/auth/guest", new { name = "alice" });
        Assert.Equal(HttpStatusCode.Forbidden, guest.StatusCode);
        Assert.Contains("guest sign-in is switched off", await guest.Content.ReadAsStringAsync());

        await using var erin = new ChatClient(server.Url, idp.Issue("ext-erin", "Erin", "signalrchat"));
        await erin.StartAsync();
        Assert.Equal("lobby", (await erin.JoinRoomAsync("lobby")).RoomId);
    }

    [Theory]
    [InlineData("Chat:Auth:Authority", "login.example.com/no-scheme")]
    [InlineData("Chat:Auth:ClockSkew", "01:00:00")]
    [InlineData("Chat:Auth:TokenLifetime", "00:00:00")]
    public async Task A_nonsensical_auth_setting_stops_start_up_and_names_the_key(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?>(KeyedServer) { [key] = value }));

        Assert.Contains(key, error.Message);
    }

    private static async Task<HttpResponseMessage> PostWithBearer(HttpClient http, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request);
    }

    private static ClaimsIdentity Claims(string userId, string name) => new([new Claim("sub", userId), new Claim("name", name)]);

    private static string Sign(ClaimsIdentity subject, string key, string issuer, string audience, DateTime? expires)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = expires is { } e && e < now ? e.AddMinutes(-10) : now,
            NotBefore = expires is { } f && f < now ? f.AddMinutes(-10) : now.AddSeconds(-1),
            Expires = expires,
            Subject = subject,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    private static string Forge(string forgery, Uri server)
    {
        var soon = DateTime.UtcNow.AddMinutes(5);
        var good = Sign(Claims("u-victim", "victim"), Key, "signalrchat", "signalrchat", soon);
        switch (forgery)
        {
            case "alg-none":
                var payload = good.Split('.')[1];
                return Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""") + "." + payload + ".";
            case "other-key":
                return Sign(Claims("u-victim", "victim"), "another-key-that-is-also-thirty-two-bytes-long", "signalrchat", "signalrchat", soon);
            case "tampered-claims":
                var parts = good.Split('.');
                var claims = Base64UrlEncoder.Decode(parts[1]).Replace("u-victim", "u-admin1", StringComparison.Ordinal);
                return parts[0] + "." + Base64UrlEncoder.Encode(claims) + "." + parts[2];
            case "expired":
                return Sign(Claims("u-victim", "victim"), Key, "signalrchat", "signalrchat", DateTime.UtcNow.AddMinutes(-5));
            case "not-yet-valid":
                return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
                {
                    Issuer = "signalrchat",
                    Audience = "signalrchat",
                    NotBefore = DateTime.UtcNow.AddMinutes(10),
                    Expires = DateTime.UtcNow.AddMinutes(20),
                    Subject = Claims("u-victim", "victim"),
                    SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Key)), SecurityAlgorithms.HmacSha256),
                });
            case "wrong-issuer":
                return Sign(Claims("u-victim", "victim"), Key, server.ToString(), "signalrchat", soon);
            case "wrong-audience":
                return Sign(Claims("u-victim", "victim"), Key, "signalrchat", "another-app", soon);
            case "no-expiry":
                return Sign(Claims("u-victim", "victim"), Key, "signalrchat", "signalrchat", null);
            default:
                return "not.a.jwt";
        }
    }
}
