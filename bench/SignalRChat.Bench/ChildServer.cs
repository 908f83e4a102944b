using System.Diagnostics;

namespace SignalRChat.Bench;

/// <summary>A server (chat or baseline) in a child process of this program, so its memory can be read on its own.</summary>
internal sealed class ChildServer : IAsyncDisposable
{
    public const string ReadyLine = "bench-server listening on ";

    /// <summary>For a baseline child: the OpenAI-compatible API base to stream from instead of the bench model.</summary>
    public const string BaselineWireSetting = "Bench:Wire";
    private readonly Process _process;

    private readonly List<string> _output;
    private int _taken;

    private ChildServer(Process process, Uri url, List<string> output)
    {
        _process = process;
        Url = url;
        _output = output;
    }

    /// <summary>The lines the server wrote (its warnings and errors) since the last call.</summary>
    public List<string> TakeOutput()
    {
        lock (_output)
        {
            var lines = _output.Skip(_taken).Where(l => !l.StartsWith(ReadyLine, StringComparison.Ordinal)).ToList();
            _taken = _output.Count;
            return lines;
        }
    }

    public Uri Url { get; }

    private static readonly HttpClient Jit = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Methods the server's JIT has compiled so far (<c>/bench/jit</c>): a warm-up goes on until this stops growing.</summary>
    public async Task<long> CompiledMethodsAsync() =>
        long.Parse(await Jit.GetStringAsync(new Uri(Url, "/bench/jit")), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Work items the server's thread pool has run so far (<c>/bench/pool</c>).</summary>
    public async Task<long> PoolWorkItemsAsync() =>
        long.Parse(await Jit.GetStringAsync(new Uri(Url, "/bench/pool")), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The server process's id, for the diagnostics tools.</summary>
    public int ProcessId => _process.Id;

    /// <summary>The CPU time the server process has used so far (user and system).</summary>
    public TimeSpan Cpu
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static Task<ChildServer> StartAsync(string kind) => StartAsync(kind, null);

    public static async Task<ChildServer> StartAsync(string kind, IReadOnlyDictionary<string, string?>? settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(ChildServer).Assembly.Location);
        start.ArgumentList.Add("--serve");
        start.ArgumentList.Add(kind);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            start.ArgumentList.Add($"{key}={value}");
        }

        // Like the service's own build (the Web SDK's default): server garbage collection.
        start.Environment["DOTNET_gcServer"] = "1";
        var process = Process.Start(start) ?? throw new InvalidOperationException("the child server did not start");
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new List<string>();
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                output.Add(line);
            }

            if (line.StartsWith(ReadyLine, StringComparison.Ordinal))
            {
                ready.TrySetResult(new Uri(line[ReadyLine.Length..].Trim()));
            }
        }

        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("the child server exited: " + string.Join('\n', output)));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildServer(process, await ready.Task.WaitAsync(TimeSpan.FromSeconds(60)), output);
    }

    /// <summary>Runs in the child: serves until stdin closes or the parent kills it.</summary>
    public static async Task<int> ServeAsync(string kind, IEnumerable<string>? settings = null)
    {
        var chatSettings = settings?.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => (string?)p[1]);
        var app = kind == "chat" ? ChatNode.Build(chatSettings, "http://127.0.0.1:0", stats: true)
            : BaselineNode.Build(chatSettings?.GetValueOrDefault("ConnectionStrings:Redis"), "http://127.0.0.1:0", stats: true, chatSettings?.GetValueOrDefault(BaselineWireSetting));
        await app.StartAsync();
        Console.WriteLine(ReadyLine + RunningNode.Address(app));
        await app.WaitForShutdownAsync();
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
