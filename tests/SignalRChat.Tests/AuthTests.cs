using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

public sealed class AuthTests
{
    [Fact]
    public async Task A_guest_signs_in_with_a_name_and_gets_a_token()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var response = await http.PostAsJsonAsync("/api/auth/guest", new { name = "  alice  " });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var session = await response.Content.ReadFromJsonAsync<GuestSession>();
        Assert.NotNull(session);
        Assert.Equal("alice", session.Name);
        Assert.False(string.IsNullOrEmpty(session.UserId));
        Assert.Equal(3, session.Token.Split('.').Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456")]
    [InlineData("bell\u0007")]
    [InlineData("\u202Eevil")]
    [InlineData("zero\u200Bwidth")]
    [InlineData("line\nbreak")]
    public async Task A_bad_guest_name_gets_400_with_a_reason(string name)
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var response = await http.PostAsJsonAsync("/api/auth/guest", new { name });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("name", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("Zoë", null)]
    [InlineData("  שלום  ", "שלום")]
    [InlineData("😀 party", null)]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345", null)]
    [InlineData("\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600", null)]
    public async Task Printable_names_in_any_script_are_accepted_and_trimmed(string name, string? trimmed)
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var response = await http.PostAsJsonAsync("/api/auth/guest", new { name });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var session = await response.Content.ReadFromJsonAsync<GuestSession>();
        Assert.Equal(trimmed ?? name, session?.Name);
    }

    [Fact]
    public async Task A_missing_body_gets_400()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var response = await http.PostAsync("/api/auth/guest", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task The_hub_refuses_connections_without_a_valid_token()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        var anonymous = await http.PostAsync("/hubs/chat/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var forged = new HttpRequestMessage(HttpMethod.Post, "/hubs/chat/negotiate?negotiateVersion=1");
        forged.Headers.Authorization = new("Bearer", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(forged)).StatusCode);

        await using var connection = new HubConnectionBuilder().WithUrl(new Uri(server.Url, ChatProtocol.HubPath)).Build();
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => connection.StartAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
    }

    [Fact]
    public async Task Outside_Development_a_missing_signing_key_stops_start_up_and_names_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(environment: "Production"));

        Assert.Contains("Chat:Auth:SigningKey", Flatten(error));
    }

    [Fact]
    public async Task A_signing_key_shorter_than_256_bits_stops_start_up()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:SigningKey"] = "too-short" }, environment: "Production"));

        Assert.Contains("256 bits", Flatten(error));
    }

    [Fact]
    public async Task With_a_configured_key_outside_Development_the_service_runs_and_guests_are_off_by_default()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Auth:SigningKey"] = new string('k', 40) }, environment: "Production");
        using var http = server.CreateHttpClient();

        var response = await http.PostAsJsonAsync("/api/auth/guest", new { name = "alice" });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Chat:Auth:AllowGuests", await response.Content.ReadAsStringAsync());
    }

    private static string Flatten(Exception error) => error switch
    {
        OptionsValidationException options => string.Join(" ", options.Failures) + error.Message,
        AggregateException aggregate => string.Join(" ", aggregate.InnerExceptions.Select(Flatten)),
        _ => error.Message + (error.InnerException is null ? string.Empty : " " + Flatten(error.InnerException)),
    };
}
