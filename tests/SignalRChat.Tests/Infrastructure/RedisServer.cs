using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>A real redis-server (Debian's package) on a free loopback port, started for one test and stopped after it.</summary>
public sealed class RedisServer : IRedisDeployment
{
    private readonly string? _dataDirectory;
    private Process _process;

    private RedisServer(Process process, int port, string? dataDirectory)
    {
        _process = process;
        Port = port;
        _dataDirectory = dataDirectory;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>Starts redis-server; <paramref name="persistent"/> keeps an append-only file so a restart keeps the data.</summary>
    public static async Task<RedisServer> StartAsync(bool persistent = false)
    {
        var port = FreePort();
        var dataDirectory = persistent ? Directory.CreateTempSubdirectory("signalrchat-redis-").FullName : null;
        return new RedisServer(await LaunchAsync(port, dataDirectory), port, dataDirectory);
    }

    /// <summary>Kills the server (SIGKILL) and starts it again on the same port with the same data.</summary>
    public async Task RestartAsync(Func<Task>? whileDown = null)
    {
        _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        if (whileDown is not null)
        {
            await whileDown();
        }

        _process = await LaunchAsync(Port, _dataDirectory);
    }

    private static Task<Process> LaunchAsync(int port, string? dataDirectory) =>
        LaunchAsync(dataDirectory is null
            ? ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--loglevel", "notice", "--appendonly", "no"]
            : ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--loglevel", "notice", "--appendonly", "yes", "--appendfsync", "always", "--dir", dataDirectory]);

    /// <summary>Starts redis-server with <paramref name="arguments"/> and waits until it accepts connections.</summary>
    internal static async Task<Process> LaunchAsync(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not installed: run ./test.sh (it installs it) or apt-get install -y redis-server", ex);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Ready to accept connections", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("redis-server exited"));
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(20));
        return process;
    }

    public const string SharedSigningKey = "a-shared-signing-key-of-more-than-32-bytes";

    public Dictionary<string, string?> NodeSettings(string signingKey = SharedSigningKey) => SettingsFor(ConnectionString, signingKey);

    internal static Dictionary<string, string?> SettingsFor(string connectionString, string signingKey) => new()
    {
        ["ConnectionStrings:Redis"] = connectionString,
        ["Chat:Auth:SigningKey"] = signingKey,
        ["Chat:Redis:Lease"] = "00:00:02",
        ["Chat:Redis:SweepInterval"] = "00:00:00.5",
    };

    /// <summary>Freezes the server (SIGSTOP), as a hung Redis.</summary>
    public void Pause() => Signal("STOP");

    public void Continue() => Signal("CONT");

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signal("CONT");
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        if (_dataDirectory is not null)
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    private void Signal(string name) => Process.Start("kill", [$"-{name}", _process.Id.ToString()])!.WaitForExit();

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The service as a separate process (the built server dll), so a test can kill it hard.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private ServerProcess(Process process) => _process = process;

    public Uri Url { get; private set; } = null!;

    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(SignalRChat.Server.ChatApp).Assembly.Location);
        foreach (var argument in new[] { "--urls", "http://127.0.0.1:0", "--environment", "Development", "--contentRoot", Paths.ServerProject })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in ChatServer.Defaults.Concat(settings).GroupBy(kv => kv.Key).Select(g => g.Last()))
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(start)!;
        var server = new ServerProcess(process);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (server._output)
            {
                server._output.Add(line);
            }

            var at = line.IndexOf("Now listening on: ", StringComparison.Ordinal);
            if (at >= 0)
            {
                listening.TrySetResult(new Uri(line[(at + "Now listening on: ".Length)..].Trim()));
            }
        }

        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("the server exited:\n" + server.Output));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        server.Url = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return server;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>Kills the process at once (SIGKILL): no shutdown, no cleanup, as a crashed node.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>Asks the process to stop (SIGTERM), as an orchestrator does, and waits for it.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
        await _process.WaitForExitAsync().WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }
}
