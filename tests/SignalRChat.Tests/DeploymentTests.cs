using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// The ways to run several nodes: docker-compose.yml (checked with docker-compose config, as no Docker
/// daemon is needed for that) and scripts/cluster.sh (run for real: redis-server, two nodes, nginx).
/// </summary>
public sealed class DeploymentTests
{
    private const string SigningKey = "compose-test-key-0123456789abcdef0123456789";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Compose_config_passes_and_names_postgres_redis_two_chat_nodes_and_nginx()
    {
        var (exitCode, output) = await ComposeConfigAsync(SigningKey);

        Assert.True(exitCode == 0, $"docker-compose config failed:\n{output}");
        Assert.Equal(["chat1", "chat2", "nginx", "postgres", "redis"], ServiceNames(output).Order());
        // Every node gets the same key and the same Redis, so a token from one is good on the other.
        Assert.Equal(2, Occurrences(output, $"Chat__Auth__SigningKey: {SigningKey}"));
        Assert.Equal(2, Occurrences(output, "ConnectionStrings__Redis: redis:6379,abortConnect=false"));
        // And the same record: PostgreSQL, its data on a volume that outlives the containers.
        Assert.Equal(2, Occurrences(output, "Chat__Storage__Provider: Postgres"));
        Assert.Equal(2, Occurrences(output, "ConnectionStrings__Postgres: Host=postgres;Port=5432;Username=signalrchat;Password=signalrchat;Database=signalrchat"));
        Assert.Contains("postgres-data:/var/lib/postgresql/data", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compose_config_refuses_to_run_without_a_signing_key()
    {
        var (exitCode, output) = await ComposeConfigAsync(signingKey: null);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("set CHAT_SIGNING_KEY (at least 32 characters)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_check_starts_postgres_redis_two_nodes_and_nginx_and_each_answers_health()
    {
        RequireCommand("redis-server", "redis-server");
        RequireCommand("nginx", "nginx");
        var ports = ClusterPorts.Free();

        var (exitCode, output) = await CommandRun.RunAsync(ClusterScript, ["--check"], Paths.Root, CommandTimeout, ports.Environment());

        Assert.True(exitCode == 0, $"cluster.sh --check failed:\n{output}");
        Assert.Contains($"GET http://127.0.0.1:{ports.Node1}/health -> 200", output, StringComparison.Ordinal);
        Assert.Contains($"GET http://127.0.0.1:{ports.Node2}/health -> 200", output, StringComparison.Ordinal);
        Assert.Contains($"GET http://127.0.0.1:{ports.Proxy}/health -> 200", output, StringComparison.Ordinal);
        Assert.Contains("check passed", output, StringComparison.Ordinal);
        AssertNothingListens(ports);
    }

    [Fact]
    public async Task A_member_chats_through_nginx_and_SIGTERM_stops_the_whole_cluster()
    {
        RequireCommand("redis-server", "redis-server");
        RequireCommand("nginx", "nginx");
        var ports = ClusterPorts.Free();
        var environment = new Dictionary<string, string?>(ports.Environment())
        {
            // Inherited by the nodes: short offline replies.
            ["Chat__Offline__TokenDelayMs"] = "2",
            ["Chat__Offline__ReplyTokens"] = "20",
            // Comments on a stream that waits, so that they are seen passing nginx.
            ["Chat__Streams__KeepAlive"] = "00:00:00.200",
        };

        await using var cluster = CommandRun.Start(ClusterScript, [], Paths.Root, environment);
        await cluster.WaitForLineAsync("Ctrl+C stops the cluster", CommandTimeout);

        // Sign-in, negotiate and the WebSocket (no fallback allowed) all pass through nginx, which must
        // upgrade the connection and keep negotiate and WebSocket on one node.
        var proxy = new Uri($"http://127.0.0.1:{ports.Proxy}");
        await using (var alice = await ChatClient.ConnectAsGuestAsync(
            proxy, "alice", builder => builder.Services.Configure<HttpConnectionOptions>(o => o.Transports = HttpTransportType.WebSockets)))
        {
            var snapshot = await alice.JoinRoomAsync("lobby");
            Assert.Equal(["alice"], snapshot.Members.Select(m => m.Name));

            var reply = await alice.AskAsync("lobby", "hello through the proxy");
            var final = await reply.Completion.WaitAsync(EventLog.DefaultTimeout);
            var tokens = new List<string>();
            await foreach (var token in reply.Tokens)
            {
                tokens.Add(token);
            }

            Assert.Equal(GenerationStates.Completed, final.State);
            Assert.Equal(final.Text, string.Concat(tokens));

            // 20 model deltas; those that come during one Redis round trip go out joined, so a loaded machine sends fewer events.
            Assert.InRange(tokens.Count, 1, 20);

            // The AG-UI and AI SDK streams through nginx: a reply that waits for alice's approval has
            // already sent its start, and comments keep it open; a client's long conversation (past the
            // 1 MiB other bodies may have) reaches the node.
            var log = new EventLog(alice);
            using var http = new HttpClient { BaseAddress = proxy, Timeout = TimeSpan.FromSeconds(60) };
            var conversation = string.Join(",", Enumerable.Range(0, 300).Select(i => $$"""{"id":"h{{i}}","role":"assistant","content":"{{new string('x', 5000)}}"}"""));
            var runs = new (string Path, string Body, string Start, string End)[]
            {
                ("/api/rooms/lobby/agui", $$"""{"threadId":"lobby","messages":[{{conversation}},{"id":"u1","role":"user","content":"please set the topic to Through nginx"}]}""",
                    "\"RUN_STARTED\"", "\"RUN_FINISHED\""),
                ("/api/ai-sdk/chat", """{"id":"lobby","trigger":"submit-message","messages":[{"id":"u2","role":"user","parts":[{"type":"text","text":"please set the topic to Through nginx again"}]}]}""",
                    "\"start\"", "\"finish\""),
            };
            foreach (var (path, body, start, end) in runs)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", alice.Session!.Token);
                request.Headers.Accept.ParseAdd("text/event-stream");
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode} {(response.IsSuccessStatusCode ? "" : await response.Content.ReadAsStringAsync())}");
                await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
                var first = await sse.NextAsync();
                Assert.Contains(start, first?.Data ?? "", StringComparison.Ordinal);
                var pending = (ToolApprovalEvent)await log.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending } a
                    && !log.Events.Any(d => d is ToolApprovalEvent { State: not ApprovalStates.Pending } o && o.ApprovalId == a.ApprovalId));
                var comment = await sse.NextAsync();
                Assert.Equal("keep-alive", comment?.Comment);
                Assert.True(await alice.DecideToolCallAsync(pending.ApprovalId, approve: true));
                var rest = new List<string>();
                while (await sse.NextAsync() is { } frame)
                {
                    if (frame.Data is not null)
                    {
                        rest.Add(frame.Data);
                    }
                }

                Assert.Contains(rest, d => d.Contains(end, StringComparison.Ordinal));
            }
        }

        await cluster.TerminateAsync();
        var exitCode = await cluster.WaitForExitAsync(CommandTimeout);

        Assert.True(exitCode == 0, $"cluster.sh did not stop cleanly:\n{cluster.Output}");
        AssertNothingListens(ports);
    }

    [Fact]
    public async Task Cluster_script_refuses_a_port_in_use_and_leaves_nothing_running()
    {
        RequireCommand("redis-server", "redis-server");
        var ports = ClusterPorts.Free();
        using var squatter = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, ports.Node2);
        squatter.Start();

        var (exitCode, output) = await CommandRun.RunAsync(ClusterScript, ["--check"], Paths.Root, CommandTimeout, ports.Environment());

        Assert.Equal(1, exitCode);
        Assert.Contains($"port {ports.Node2} on 127.0.0.1 is in use", output, StringComparison.Ordinal);
        Assert.False(CommandRun.IsListening(ports.Redis), "redis-server was left running");
        Assert.False(CommandRun.IsListening(ports.Node1), "a node was left running");
    }

    [Fact]
    public async Task Cluster_script_refuses_an_unknown_argument()
    {
        var (exitCode, output) = await CommandRun.RunAsync(ClusterScript, ["--chek"], Paths.Root, CommandTimeout);

        Assert.Equal(2, exitCode);
        Assert.Contains("unknown argument '--chek'", output, StringComparison.Ordinal);
    }

    private static string ClusterScript => Path.Combine(Paths.Root, "scripts", "cluster.sh");

    private static async Task<(int ExitCode, string Output)> ComposeConfigAsync(string? signingKey)
    {
        RequireCommand("docker-compose", "docker-compose");
        return await CommandRun.RunAsync("docker-compose", ["config"], Paths.Root, CommandTimeout, new Dictionary<string, string?>
        {
            ["CHAT_SIGNING_KEY"] = signingKey,
        });
    }

    // The keys directly under "services:" in docker-compose config's normalized YAML.
    private static List<string> ServiceNames(string config)
    {
        var names = new List<string>();
        var inServices = false;
        foreach (var line in config.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]))
            {
                inServices = line == "services:";
            }
            else if (inServices && line.StartsWith("  ", StringComparison.Ordinal) && !char.IsWhiteSpace(line[2]) && line.EndsWith(':'))
            {
                names.Add(line.Trim().TrimEnd(':'));
            }
        }

        return names;
    }

    private static int Occurrences(string text, string value) =>
        text.Split('\n').Count(line => line.Trim() == value);

    private static void AssertNothingListens(ClusterPorts ports)
    {
        foreach (var port in new[] { ports.Postgres, ports.Redis, ports.Node1, ports.Node2, ports.Proxy })
        {
            Assert.False(CommandRun.IsListening(port), $"something still listens on port {port} after the cluster stopped");
        }
    }

    // Fails (never skips) when a tool is missing: ./test.sh installs all of these. /usr/sbin (nginx) is
    // searched too, as cluster.sh does: it is not on an ordinary user's PATH.
    private static void RequireCommand(string command, string debianPackage)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin")
            .Any(dir => File.Exists(Path.Combine(dir, command)));
        Assert.True(found, $"{command} is not installed: ./test.sh installs it, or run apt-get install {debianPackage}");
    }

    private sealed record ClusterPorts(int Redis, int Node1, int Node2, int Proxy, int Postgres)
    {
        public static ClusterPorts Free()
        {
            var ports = new HashSet<int>();
            while (ports.Count < 5)
            {
                ports.Add(CommandRun.FreePort());
            }

            var list = ports.ToList();
            return new ClusterPorts(list[0], list[1], list[2], list[3], list[4]);
        }

        public IReadOnlyDictionary<string, string?> Environment() => new Dictionary<string, string?>
        {
            ["CLUSTER_POSTGRES_PORT"] = Postgres.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CLUSTER_REDIS_PORT"] = Redis.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CLUSTER_NODE1_PORT"] = Node1.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CLUSTER_NODE2_PORT"] = Node2.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CLUSTER_PROXY_PORT"] = Proxy.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}
