using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using SignalRChat.Client;
using SignalRChat.Server.Security;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Browser-facing headers, the CORS allow-list, and credentials kept out of the logs.</summary>
public sealed partial class SecurityTests
{
    [Fact]
    public async Task The_page_is_served_with_a_strict_content_security_policy_and_no_inline_script()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var page = await http.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var csp = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains($"connect-src 'self' ws://{server.Url.Authority} wss://{server.Url.Authority}", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());

        // Every script the page loads comes from a file, so the policy does not stop the page.
        var html = await page.Content.ReadAsStringAsync();
        foreach (Match script in ScriptTag().Matches(html))
        {
            Assert.Contains("src=", script.Value);
        }

        Assert.DoesNotMatch(InlineHandler(), html);
    }

    [Fact]
    public async Task Without_an_allow_list_no_origin_gets_CORS_access()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var preflight = await PreflightAsync(http, "https://evil.example");

        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Origins_on_the_allow_list_get_CORS_access_and_others_do_not()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Cors:AllowedOrigins:0"] = "https://chat.example.com",
            ["Chat:Cors:AllowedOrigins:1"] = "http://localhost:5173",
        });
        using var http = server.CreateHttpClient();

        var allowed = await PreflightAsync(http, "https://chat.example.com");
        Assert.Equal("https://chat.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", allowed.Headers.GetValues("Access-Control-Allow-Credentials").Single());

        var other = await PreflightAsync(http, "https://evil.example");
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("https://chat.example.com/")]
    [InlineData("chat.example.com")]
    public async Task A_malformed_or_open_CORS_origin_stops_start_up(string origin)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Cors:AllowedOrigins:0"] = origin }));

        Assert.Contains("Chat:Cors:AllowedOrigins", error.Message);
    }

    [Fact]
    public async Task Tokens_and_keys_never_reach_the_logs_even_from_request_urls()
    {
        const string apiKey = "sk-test-0123456789abcdef";
        const string signingKey = "log-test-signing-key-with-32-bytes-or-more";
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Auth:SigningKey"] = signingKey,
            ["Chat:OpenAI:ApiKey"] = apiKey,
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        });
        using var http = server.CreateHttpClient();

        // Browsers' WebSockets carry the token in the query string (the .NET client sends a header); a forged one too; refresh uses a header.
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("logs");
        var token = alice.AccessToken;
        var forged = token[..^4] + "AAAA";
        await using (var browserLike = await RawHubSocket.ConnectAsync(server.Url, token))
        {
            Assert.NotNull(await browserLike.InvokeAsync("1", "JoinRoom", """["logs"]"""));
        }


        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/hubs/chat/negotiate?negotiateVersion=1&access_token=" + forged, null)).StatusCode);
        using (var refresh = new HttpRequestMessage(HttpMethod.Post, "/api/auth/refresh"))
        {
            refresh.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(refresh)).StatusCode);
        }

        await alice.DisposeAsync();
        var lines = server.Logs.Lines.ToList();

        Assert.Contains(lines, l => l.Contains("access_token=" + Redactor.Mask, StringComparison.Ordinal));
        var secrets = new[] { token, forged, token.Split('.')[2], apiKey, signingKey };
        foreach (var line in lines)
        {
            foreach (var secret in secrets)
            {
                Assert.DoesNotContain(secret, line, StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [InlineData("GET http://h/hubs/chat?id=abc&access_token=eyJhbGciOi.eyJzdWIiOi.sig123 - 101", "GET http://h/hubs/chat?id=abc&access_token=[redacted] - 101")]
    [InlineData("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [redacted]")]
    [InlineData("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abcdefgh in text", "token [redacted] in text")]
    [InlineData("key is super-secret-value here", "key is [redacted] here")]
    [InlineData("nothing to see", "nothing to see")]
    public void The_redactor_masks_credentials(string text, string expected) =>
        Assert.Equal(expected, new Redactor(["super-secret-value", "short"]).Redact(text));

    private static async Task<HttpResponseMessage> PreflightAsync(HttpClient http, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/hubs/chat/negotiate?negotiateVersion=1");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,x-requested-with,x-signalr-user-agent");
        return await http.SendAsync(request);
    }

    [GeneratedRegex("<script\\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();

    [GeneratedRegex("\\son[a-z]+\\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex InlineHandler();
}
