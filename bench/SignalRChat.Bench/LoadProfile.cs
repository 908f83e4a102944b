using System.Diagnostics;
using System.Globalization;

namespace SignalRChat.Bench;

/// <summary>
/// A profile of the processes behind one load of the scaling run, taken while it streams: <c>dotnet-counters collect</c>
/// and <c>dotnet-trace collect</c> (sampled thread time) on each server process and on the bench process itself, optionally
/// <c>perf record</c> across the whole machine, and the CPU each process (the servers, redis-server, the bench's clients)
/// and the machine as a whole used over the stream, read from the OS. The tools must be on the PATH
/// (<c>dotnet tool install -g dotnet-trace</c>, <c>dotnet-counters</c>); the files land in the folder given. For perf to
/// name .NET frames, start the run with <c>DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0</c> (the child servers
/// inherit both): the first writes /tmp/perf-PID.map, the second keeps compiled code in anonymous memory that the map covers.
/// </summary>
internal sealed class LoadProfile
{
    /// <summary>Runtime, Kestrel, connection and the service's own meters (the service's includes its Redis call durations).</summary>
    private const string Counters = "System.Runtime,Microsoft.AspNetCore.Server.Kestrel,Microsoft.AspNetCore.Http.Connections,SignalRChat";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private readonly IReadOnlyList<(string Name, int Pid)> _processes;
    private readonly List<Process> _tools;
    private readonly Dictionary<int, TimeSpan> _cpuBefore;
    private readonly TimeSpan _toolsBefore;
    private readonly (long Busy, long Total) _machineBefore;
    private readonly Stopwatch _watch;

    private LoadProfile(IReadOnlyList<(string Name, int Pid)> processes, List<Process> tools)
    {
        _processes = processes;
        _tools = tools;
        _cpuBefore = processes.ToDictionary(p => p.Pid, p => Cpu(p.Pid));
        _toolsBefore = ToolsCpu();
        _machineBefore = MachineTicks();
        _watch = Stopwatch.StartNew();
    }

    /// <summary>
    /// Starts the tools on the .NET processes among <paramref name="processes"/> (all but redis-server), waits until they
    /// have attached, then starts the CPU clocks. <see cref="StopAsync"/> stops the tools as Ctrl+C would;
    /// <paramref name="longest"/> bounds them should it never be called.
    /// </summary>
    public static async Task<LoadProfile> StartAsync(string directory, string label, IReadOnlyList<(string Name, int Pid, bool Dotnet)> processes,
        TimeSpan longest, bool perf, Action<string> log)
    {
        Directory.CreateDirectory(directory);
        var seconds = (int)Math.Ceiling(longest.TotalSeconds);
        var span = TimeSpan.FromSeconds(seconds).ToString(@"dd\:hh\:mm\:ss", Invariant);
        var tools = new List<Process>();
        foreach (var (name, pid, dotnet) in processes.Where(p => p.Dotnet))
        {
            var file = Path.Combine(directory, $"{label}-{name}");
            tools.Add(Start("dotnet-counters", ["collect", "-p", pid.ToString(Invariant), "--counters", Counters, "--refresh-interval", "1",
                "--format", "csv", "-o", file + ".counters.csv", "--duration", span]));
            tools.Add(Start("dotnet-trace", ["collect", "-p", pid.ToString(Invariant), "--profile", "dotnet-sampled-thread-time",
                "-o", file + ".nettrace", "--duration", span]));
        }

        if (perf)
        {
            // Every CPU, every process, with call graphs; .NET frames resolve from /tmp/perf-PID.map when the processes
            // were started with DOTNET_PerfMapEnabled=1.
            tools.Add(Start("perf", ["record", "-a", "-g", "-e", "cpu-clock", "-F", "199", "-o", Path.Combine(directory, $"{label}.perf.data"),
                "--", "sleep", seconds.ToString(Invariant)]));
        }

        // Which process is which, for reading a machine-wide perf profile.
        File.WriteAllLines(Path.Combine(directory, $"{label}.pids.txt"), processes.Select(p => $"{p.Pid} {p.Name}")
            .Concat(tools.Select(t => $"{t.Id} {t.StartInfo.FileName}")));

        // The tools attach within a second or two; their own start-up is CPU the load should not share.
        await Task.Delay(TimeSpan.FromSeconds(3));
        log($"  profiling {label}: {string.Join(", ", processes.Select(p => $"{p.Name} pid {p.Pid}"))}; files in {directory}");
        return new LoadProfile(processes.Select(p => (p.Name, p.Pid)).ToList(), tools);
    }

    /// <summary>Stops the CPU clocks and the tools, waits for them to finish writing, and returns each process's share of the machine.</summary>
    public async Task<string> StopAsync()
    {
        var elapsed = _watch.Elapsed;
        var machineAfter = MachineTicks();
        var tools = ToolsCpu() - _toolsBefore;
        var cores = Environment.ProcessorCount;
        var lines = new List<string>();
        var listed = TimeSpan.Zero;
        foreach (var (name, pid) in _processes)
        {
            var used = Cpu(pid) - _cpuBefore[pid];
            listed += used;
            lines.Add(string.Create(Invariant, $"{name} {used.TotalSeconds / elapsed.TotalSeconds:P0}"));
        }

        listed += tools;
        lines.Add(string.Create(Invariant, $"the profiling tools {tools.TotalSeconds / elapsed.TotalSeconds:P0}"));
        var machineBusy = (double)(machineAfter.Busy - _machineBefore.Busy) / Math.Max(1, machineAfter.Total - _machineBefore.Total) * cores;
        var other = machineBusy - (listed.TotalSeconds / elapsed.TotalSeconds);
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        foreach (var tool in _tools.Where(t => !t.HasExited))
        {
            _ = Interrupt(tool.Id, 2);
        }

        foreach (var tool in _tools)
        {
            await tool.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            tool.Dispose();
        }

        return string.Create(Invariant, $"CPU over {elapsed.TotalSeconds:F1} s, as a share of one core ({cores} cores): {string.Join(", ", lines)}; " +
            $"everything else on the machine {other:P0}; machine busy {machineBusy / cores:P0}; load average {load}");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Interrupt(int pid, int signal);

    private TimeSpan ToolsCpu() => _tools.Aggregate(TimeSpan.Zero, (sum, t) => sum + Cpu(t.Id));

    private static Process Start(string tool, string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static TimeSpan Cpu(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (ArgumentException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Busy and total ticks of all CPUs from the first line of /proc/stat (idle and iowait are not busy).</summary>
    private static (long Busy, long Total) MachineTicks()
    {
        if (!File.Exists("/proc/stat"))
        {
            return (0, 1);
        }

        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(long.Parse).ToArray();
        var total = fields.Sum();
        return (total - fields[3] - fields[4], total);
    }
}
