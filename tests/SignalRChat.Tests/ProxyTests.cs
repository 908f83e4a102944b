using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// Behind the shipped nginx every visitor has their own sign-in bucket, no client can choose its address
/// with X-Forwarded-For, and the proxy's log holds no token.
/// </summary>
public sealed class ProxyTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Without_a_configured_proxy_X_Forwarded_For_is_ignored_and_one_address_shares_one_bucket()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Limits:GuestSignInsPerMinute"] = "2" });
        using var http = server.CreateHttpClient();

        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(http, forwardedFor: "203.0.113.1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(http, forwardedFor: "203.0.113.2")).StatusCode);
        var refused = await SignInAsync(http, forwardedFor: "203.0.113.3");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("Chat:Limits:GuestSignInsPerMinute", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Behind_a_configured_proxy_each_client_address_has_its_own_bucket_and_IPv6_counts_by_its_64()
    {
        // The test's HttpClient connects from 127.0.0.1, the configured proxy, and says who the client is.
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Limits:GuestSignInsPerMinute"] = "2",
            ["Chat:Proxy:KnownProxies:0"] = "127.0.0.1",
        });
        using var http = server.CreateHttpClient();

        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(http, "2001:db8:1:2::1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(http, "2001:db8:1:2:aaaa::1")).StatusCode);
        // Another address of the same /64 is the same subscriber.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SignInAsync(http, "2001:db8:1:2:ffff:ffff:ffff:ffff")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(http, "2001:db8:1:3::1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(http, "198.51.100.7")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(http, "198.51.100.8")).StatusCode);
    }

    [Theory]
    [InlineData("Chat:Proxy:KnownProxies:0", "nginx")]
    [InlineData("Chat:Proxy:KnownNetworks:0", "10.0.0.0")]
    public async Task A_malformed_proxy_setting_stops_start_up_and_names_the_key(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?> { [key] = value }));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Through_the_cluster_nginx_visitors_have_their_own_buckets_spoofing_fails_and_no_token_reaches_the_log()
    {
        var ports = Enumerable.Range(0, 16).Select(_ => CommandRun.FreePort()).Distinct().Take(4).ToArray();
        var environment = new Dictionary<string, string?>
        {
            ["CLUSTER_REDIS_PORT"] = Text(ports[0]),
            ["CLUSTER_NODE1_PORT"] = Text(ports[1]),
            ["CLUSTER_NODE2_PORT"] = Text(ports[2]),
            ["CLUSTER_PROXY_PORT"] = Text(ports[3]),
            // Inherited by the nodes.
            ["Chat__Limits__GuestSignInsPerMinute"] = "2",
        };
        await using var cluster = CommandRun.Start(Path.Combine(Paths.Root, "scripts", "cluster.sh"), [], Paths.Root, environment);
        await cluster.WaitForLineAsync("Ctrl+C stops the cluster", CommandTimeout);
        var logs = cluster.Output.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("logs ", StringComparison.Ordinal))["logs ".Length..].Trim();
        var proxy = new Uri($"http://127.0.0.1:{ports[3]}");

        // Mallory, on 127.0.0.2, claims a new address each time: nginx replaces the header with the real one.
        using (var mallory = From("127.0.0.2", proxy))
        {
            Assert.Equal(HttpStatusCode.OK, (await SignInAsync(mallory, "203.0.113.1")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await SignInAsync(mallory, "203.0.113.2")).StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await SignInAsync(mallory, "203.0.113.3")).StatusCode);
        }

        // Carol, another visitor behind the same proxy, is not in Mallory's bucket.
        using (var carol = From("127.0.0.3", proxy))
        {
            Assert.Equal(HttpStatusCode.OK, (await SignInAsync(carol)).StatusCode);
        }

        // Straight to a node, the header is not believed from anyone but nginx.
        using (var direct = From("127.0.0.4", new Uri($"http://127.0.0.1:{ports[1]}")))
        {
            Assert.Equal(HttpStatusCode.OK, (await SignInAsync(direct, "203.0.113.10")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await SignInAsync(direct, "203.0.113.11")).StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await SignInAsync(direct, "203.0.113.12")).StatusCode);
        }

        // A browser-like client: the WebSocket carries the token in ?access_token=.
        string token;
        await using (var alice = await ChatClient.ConnectAsGuestAsync(
            proxy, "alice", builder => builder.Services.Configure<HttpConnectionOptions>(o => o.Transports = HttpTransportType.WebSockets)))
        {
            token = alice.Session!.Token;
            await alice.JoinRoomAsync("lobby");
        }

        // nginx writes the WebSocket's line when it closes.
        var log = await WaitForFileAsync(Path.Combine(logs, "nginx.log"), text => text.Contains("GET /hubs/chat ", StringComparison.Ordinal));
        Assert.DoesNotContain(token, log, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[2], log, StringComparison.Ordinal);
        Assert.DoesNotContain("access_token", log, StringComparison.Ordinal);
        Assert.Contains("POST /api/auth/guest ", log, StringComparison.Ordinal);

        await cluster.TerminateAsync();
        Assert.Equal(0, await cluster.WaitForExitAsync(CommandTimeout));
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task<HttpResponseMessage> SignInAsync(HttpClient http, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/guest") { Content = JsonContent.Create(new { name = "guest" }) };
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        return await http.SendAsync(request);
    }

    // An HttpClient whose connections leave from the given loopback address, as another visitor's would.
    private static HttpClient From(string source, Uri baseAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    private static async Task<string> WaitForFileAsync(string path, Func<string, bool> done)
    {
        using var timeout = new CancellationTokenSource(EventLog.DefaultTimeout);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var text = string.Empty;
        while (!timeout.IsCancellationRequested)
        {
            text = File.Exists(path) ? await File.ReadAllTextAsync(path, CancellationToken.None) : string.Empty;
            if (done(text))
            {
                return text;
            }

            try
            {
                await tick.WaitForNextTickAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        throw new TimeoutException($"{path} did not get the expected line; it holds:\n{text}");
    }
}
