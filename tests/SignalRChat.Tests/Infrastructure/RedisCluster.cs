using System.Diagnostics;
using StackExchange.Redis;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>
/// A real three-master Redis Cluster: three redis-server processes with cluster mode on, on free
/// loopback ports, joined with <c>redis-cli --cluster create</c>, stopped after the test.
/// </summary>
public sealed class RedisCluster : IRedisDeployment
{
    private readonly List<Process> _nodes;
    private readonly string _directory;

    private RedisCluster(List<Process> nodes, List<int> ports, string directory)
    {
        _nodes = nodes;
        Ports = ports;
        _directory = directory;
    }

    public IReadOnlyList<int> Ports { get; }

    public string ConnectionString => string.Join(",", Ports.Select(p => $"127.0.0.1:{p}"));

    public static async Task<RedisCluster> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("signalrchat-cluster-").FullName;
        var ports = Enumerable.Range(0, 3).Select(_ => RedisServer.FreePort()).Distinct().ToList();
        while (ports.Count < 3)
        {
            ports.Add(RedisServer.FreePort());
            ports = ports.Distinct().ToList();
        }

        var nodes = new List<Process>();
        var cluster = new RedisCluster(nodes, ports, directory);
        try
        {
            for (var i = 0; i < ports.Count; i++)
            {
                // A cluster node also listens on its port + 10000 (the cluster bus), which a free port does not promise;
                // and another process may take a free port before the node binds it. Such a node exits at once: another port.
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        nodes.Add(await LaunchAsync(ports[i], directory));
                        break;
                    }
                    catch (InvalidOperationException) when (attempt < 5)
                    {
                        int next;
                        do
                        {
                            next = RedisServer.FreePort();
                        }
                        while (ports.Contains(next));

                        ports[i] = next;
                    }
                }
            }

            var (exitCode, output) = await CommandRun.RunAsync("redis-cli",
                ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"], directory, timeout: TimeSpan.FromSeconds(60));
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed ({exitCode}): {output}");
            }

            await cluster.WaitUntilReadyAsync(TimeSpan.FromSeconds(30));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until every node says the cluster is ok and every slot is served.</summary>
    private async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",abortConnect=false");
        while (true)
        {
            deadline.Token.ThrowIfCancellationRequested();
            var ready = true;
            foreach (var port in Ports)
            {
                var info = (string?)await connection.GetServer("127.0.0.1", port).ExecuteAsync("CLUSTER", "INFO");
                ready &= info?.Contains("cluster_state:ok", StringComparison.Ordinal) == true && info.Contains("cluster_slots_ok:16384", StringComparison.Ordinal);
            }

            if (ready)
            {
                return;
            }

            // The cluster bus gossips its state: look again shortly, within the deadline.
            await Task.Delay(100, deadline.Token);
        }
    }

    private static Task<Process> LaunchAsync(int port, string directory) => RedisServer.LaunchAsync(
    [
        "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory,
        "--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf", "--cluster-node-timeout", "5000", "--loglevel", "notice",
    ]);

    public Dictionary<string, string?> NodeSettings(string signingKey = RedisServer.SharedSigningKey) => RedisServer.SettingsFor(ConnectionString, signingKey);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (!node.HasExited)
            {
                node.Kill();
                await node.WaitForExitAsync();
            }

            node.Dispose();
        }

        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>Where the nodes of a scale-out test keep their shared state: one redis-server, or a Redis Cluster.</summary>
public interface IRedisDeployment : IAsyncDisposable
{
    const string Single = "single";
    const string Cluster = "cluster";

    string ConnectionString { get; }

    Dictionary<string, string?> NodeSettings(string signingKey = RedisServer.SharedSigningKey);

    static async Task<IRedisDeployment> StartAsync(string kind) =>
        kind == Cluster ? await RedisCluster.StartAsync() : await RedisServer.StartAsync();
}
