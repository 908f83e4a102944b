using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// Refresh cannot stretch a session forever: a chain of tokens ends at Chat:Auth:MaxSessionAge,
/// guest tokens are not refreshed once guests are switched off, and refreshes are rate-limited per user.
/// </summary>
public sealed class SessionTests
{
    private const string Key = "a-signing-key-of-at-least-thirty-two-bytes!";

    [Fact]
    public async Task A_refreshed_token_keeps_its_session_start_and_never_outlives_the_session()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Auth:SigningKey"] = Key,
            ["Chat:Auth:MaxSessionAge"] = "1.00:00:00",
        });
        using var http = server.CreateHttpClient();
        var session = await SignInAsync(http, "alice");
        var start = new JsonWebToken(session.Token).GetClaim("sst").Value;

        var refreshed = await RefreshAsync(http, session.Token);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var token = new JsonWebToken((await refreshed.Content.ReadFromJsonAsync<GuestSession>())!.Token);
        Assert.Equal(start, token.GetClaim("sst").Value);

        // A session that began 23 hours ago gets a token that ends when the session does, not 12 hours later.
        var began = DateTimeOffset.UtcNow.AddHours(-23);
        var late = await RefreshAsync(http, Sign(began, DateTime.UtcNow.AddHours(1)));
        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        var capped = new JsonWebToken((await late.Content.ReadFromJsonAsync<GuestSession>())!.Token);
        Assert.True(capped.ValidTo <= began.AddDays(1).UtcDateTime.AddSeconds(1), $"the token runs to {capped.ValidTo:O}, past the session's end");
    }

    [Fact]
    public async Task A_still_valid_token_of_a_session_older_than_MaxSessionAge_is_not_refreshed()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:SigningKey"] = Key });
        using var http = server.CreateHttpClient();

        // Signed with the real key and valid for another hour, but its session began 8 days ago (the default limit is 7).
        var old = Sign(DateTimeOffset.UtcNow.AddDays(-8), DateTime.UtcNow.AddHours(1));
        var response = await RefreshAsync(http, old);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Chat:Auth:MaxSessionAge", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_guests_switched_off_a_guest_token_is_not_refreshed()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Auth:SigningKey"] = Key,
            ["Chat:Auth:AllowGuests"] = "false",
        });
        using var http = server.CreateHttpClient();

        // A guest token issued while guests were still allowed.
        var response = await RefreshAsync(http, Sign(DateTimeOffset.UtcNow, DateTime.UtcNow.AddHours(1)));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Chat:Auth:AllowGuests", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refreshes_are_limited_per_user_and_one_users_loop_leaves_others_alone()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Auth:SigningKey"] = Key,
            ["Chat:Auth:RefreshesPerHour"] = "3",
        });
        using var http = server.CreateHttpClient();
        var mallory = await SignInAsync(http, "mallory");
        var alice = await SignInAsync(http, "alice");

        var token = mallory.Token;
        for (var i = 0; i < 3; i++)
        {
            var ok = await RefreshAsync(http, token);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            token = (await ok.Content.ReadFromJsonAsync<GuestSession>())!.Token;
        }

        // A new token is the same user: the loop does not start a new bucket.
        var refused = await RefreshAsync(http, token);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("Chat:Auth:RefreshesPerHour", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(http, alice.Token)).StatusCode);
    }

    [Theory]
    [InlineData("Chat:Auth:MaxSessionAge", "00:00:00")]
    [InlineData("Chat:Auth:RefreshesPerHour", "0")]
    public async Task A_nonsensical_session_setting_stops_start_up_and_names_the_key(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:SigningKey"] = Key, [key] = value }));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    private static async Task<GuestSession> SignInAsync(HttpClient http, string name)
    {
        var response = await http.PostAsJsonAsync("/api/auth/guest", new { name });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<GuestSession>())!;
    }

    private static async Task<HttpResponseMessage> RefreshAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/refresh");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request);
    }

    // A token as the service issues it, for a session that began at sessionStart.
    private static string Sign(DateTimeOffset sessionStart, DateTime expires) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "signalrchat",
            Audience = "signalrchat",
            IssuedAt = DateTime.UtcNow,
            NotBefore = DateTime.UtcNow.AddSeconds(-1),
            Expires = expires,
            Subject = new ClaimsIdentity([new Claim("sub", "u-" + Guid.NewGuid().ToString("N")), new Claim("name", "old-timer"),
                new Claim("sst", sessionStart.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), ClaimValueTypes.Integer64)]),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Key)), SecurityAlgorithms.HmacSha256),
        });
}
