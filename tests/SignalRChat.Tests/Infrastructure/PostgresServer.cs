using System.Diagnostics;
using Npgsql;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server (Debian's package): <c>initdb</c> into a temporary folder as a non-root user,
/// <c>postgres</c> on a free loopback port, stopped at the end. Tests take a fresh database each.
/// </summary>
#if SIGNALRCHAT_BENCH
// Linked into the benchmark too, where it stays inside that program.
internal
#else
public
#endif
sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>The system user the server runs as when the tests run as root (PostgreSQL refuses to run as root).</summary>
    private const string TestUser = "signalrchat-test";

    private readonly string _folder;
    private readonly string _bin;
    private Process? _process;

    private PostgresServer(string folder, string bin, int port)
    {
        _folder = folder;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    private string DataDirectory => Path.Combine(_folder, "data");

    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Timeout=5;Command Timeout=10";

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinaries();
        var folder = Directory.CreateTempSubdirectory("signalrchat-pg-").FullName;
        var server = new PostgresServer(folder, bin, RedisServer.FreePort());
        try
        {
            var user = RunAs();
            if (user is not null)
            {
                await RunAsync("chown", ["-R", $"{user.Value.Uid}:{user.Value.Gid}", folder]);
            }

            await RunAsync(Path.Combine(bin, "initdb"), ["-D", server.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"], user);
            await server.LaunchAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A new empty database on this server; its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..12];
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>Stops the server (a fast shutdown: clients are cut off), as a database that went away.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Signal(process, "INT");
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts the stopped server again, on the same port with the same data.</summary>
    public Task StartAgainAsync() => LaunchAsync();

    private async Task LaunchAsync()
    {
        var user = RunAs();
        var start = Start(Path.Combine(_bin, "postgres"),
            ["-D", DataDirectory, "-k", _folder, "-p", Port.ToString(), "-h", "127.0.0.1", "-F", "-c", "max_connections=300", "-c", "shared_buffers=16MB"], user);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        // Ready when it accepts a connection; the log line comes before it truly does for every client.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"postgres exited with {process.ExitCode} while starting");
            }

            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
                await connection.OpenAsync();
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (TimeoutException)
        {
            _process?.Kill(entireProcessTree: true);
        }

        NpgsqlConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static string FindBinaries()
    {
        var versions = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0).ToList()
            : [];
        if (versions.Count > 0)
        {
            return versions[0];
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').FirstOrDefault(p => File.Exists(Path.Combine(p, "initdb")));
        return onPath ?? throw new InvalidOperationException("PostgreSQL is not installed (no initdb): run ./test.sh (it installs it) or apt-get install -y postgresql");
    }

    /// <summary>The user to run as: none when the tests are not root; else the test user, created when missing.</summary>
    private static (int Uid, int Gid)? RunAs()
    {
        if (!IsRoot())
        {
            return null;
        }

        lock (typeof(PostgresServer))
        {
            if (Id("-u") is null)
            {
                using var add = Process.Start("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TestUser])!;
                add.WaitForExit();
            }

            return (Id("-u") ?? throw new InvalidOperationException($"could not create the user {TestUser} for PostgreSQL"), Id("-g")!.Value);
        }
    }

    private static bool IsRoot() => File.ReadAllText("/proc/self/status").Split('\n').FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))
        ?.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) == "0";

    private static int? Id(string which)
    {
        var start = new ProcessStartInfo("id", [which, TestUser]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var id = Process.Start(start)!;
        var output = id.StandardOutput.ReadToEnd();
        id.WaitForExit();
        return id.ExitCode == 0 && int.TryParse(output.Trim(), out var value) ? value : null;
    }

    // setpriv replaces itself with the program (no parent left in between), so signals reach postgres itself.
    private static ProcessStartInfo Start(string program, IEnumerable<string> arguments, (int Uid, int Gid)? user)
    {
        var start = user is { } u
            ? new ProcessStartInfo("setpriv", [$"--reuid={u.Uid}", $"--regid={u.Gid}", "--clear-groups", "--", program, .. arguments])
            : new ProcessStartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.Environment["LC_ALL"] = "C.UTF-8";
        return start;
    }

    private static async Task RunAsync(string program, IEnumerable<string> arguments, (int Uid, int Gid)? user = null)
    {
        using var process = Process.Start(Start(program, arguments, user))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} failed ({process.ExitCode}): {await output}{await error}");
        }
    }

    private static void Signal(Process process, string name) => Process.Start("kill", [$"-{name}", process.Id.ToString()])!.WaitForExit();
}
