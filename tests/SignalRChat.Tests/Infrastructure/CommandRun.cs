using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>An outside command (a script, docker-compose) run for real, with everything it printed.</summary>
public sealed class CommandRun : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _openStreams = 2;

    private CommandRun(Process process) => _process = process;

    public int ProcessId => _process.Id;

    /// <summary>Standard output and standard error, line by line as they came.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/>; an environment value of null removes that variable.</summary>
    public static CommandRun Start(string fileName, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info };
        var run = new CommandRun(process);
        process.OutputDataReceived += (_, e) => run.Add(e.Data);
        process.ErrorDataReceived += (_, e) => run.Add(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return run;
    }

    /// <summary>Runs a command to its end; fails the test with its output if it takes longer than <paramref name="timeout"/>.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        await using var run = Start(fileName, arguments, workingDirectory, environment);
        var exitCode = await run.WaitForExitAsync(timeout);
        return (exitCode, run.Output);
    }

    /// <summary>Waits until a line containing <paramref name="text"/> was printed.</summary>
    public async Task WaitForLineAsync(string text, TimeSpan timeout)
    {
        TaskCompletionSource seen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            _waiters.Add((text, seen));
        }

        var first = await Task.WhenAny(seen.Task, _outputClosed.Task, Task.Delay(timeout));
        if (first != seen.Task)
        {
            var why = first == _outputClosed.Task ? "it exited first" : $"not within {timeout.TotalSeconds:0} s";
            throw new TimeoutException($"'{text}' was not printed by {_process.StartInfo.FileName} ({why}). Its output:\n{Output}");
        }
    }

    /// <summary>Waits for the exit and for all output; kills the command and fails if that takes longer than <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            await _outputClosed.Task.WaitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{_process.StartInfo.FileName} did not finish within {timeout.TotalSeconds:0} s. Its output:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Sends SIGTERM, as a service manager (or docker stop) would.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        await kill.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await TerminateAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    /// <summary>A loopback port that nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>True when something accepts connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static bool IsListening(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Add(string? line)
    {
        lock (_output)
        {
            if (line is null)
            {
                if (--_openStreams == 0)
                {
                    _outputClosed.TrySetResult();
                }

                return;
            }

            _output.AppendLine(line);
            var all = _output.ToString();
            foreach (var waiter in _waiters.Where(w => all.Contains(w.Text, StringComparison.Ordinal)).ToList())
            {
                waiter.Seen.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }
}
