using System.Globalization;
using System.Text;

namespace SignalRChat.Bench;

/// <summary>
/// How cost grows with work, printed and plotted: rooms of five members each streaming a reply at a
/// realistic pace (one delta per 25 ms), 10 to 1,000 rooms at once, on one node and on two nodes with
/// Redis, for the chat service and the bare hub in the same run. The servers run in child processes,
/// so their CPU time is their own: CPU per delivered token is the servers' CPU over the tokens the
/// members received. The knee is the first load at which token p99 passes 100 ms.
/// <c>--scaling [--rooms 10,100,300,1000] [--tokens 120] [--window 0,00:00:00.016]</c>: the last
/// repeats the chat side with each <c>Chat:Fanout:DeliveryWindow</c>.
/// To profile the servers at one load: <c>--nodes 2 --side chat --rooms 300 --profile DIR [--perf]</c> runs only that
/// node count and side, prints the process ids, and takes a <see cref="LoadProfile"/> of each measured load (no plot is
/// written when a filter is given).
/// </summary>
internal static class ScalingRun
{
    private const int Members = 5;
    private const int PaceMs = 25;
    private const double KneeMs = 100;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args, Action<string> log)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var loads = (Arg("--rooms") ?? "10,100,300,1000").Split(',').Select(r => int.Parse(r, Invariant)).ToArray();
        var tokens = int.Parse(Arg("--tokens") ?? "120", Invariant);
        var windows = (Arg("--window") ?? "0").Split(',').Select(w => w == "0" ? TimeSpan.Zero : TimeSpan.Parse(w, Invariant)).ToArray();
        var output = Arg("--out") ?? Path.Combine(Report.FindRoot(), "docs");
        var nodeCounts = (Arg("--nodes") ?? "1,2").Split(',').Select(n => int.Parse(n, Invariant)).ToArray();
        var onlySide = Arg("--side");
        var profile = Arg("--profile") is { } folder ? Path.GetFullPath(folder) : null;
        var perf = args.Contains("--perf");
        var filtered = Arg("--nodes") is not null || onlySide is not null || profile is not null;
        log($"scaling: rooms of {Members} members, one reply of {tokens} deltas each at one per {PaceMs} ms, all rooms at once; loads {string.Join(", ", loads)}");

        var points = new List<Point>();
        foreach (var nodes in nodeCounts)
        {
            await using var redis = nodes == 1 ? null : await RedisServer.StartAsync();
            var shared = redis is null ? new Dictionary<string, string?>() : new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString };
            var sides = new List<(string Name, Dictionary<string, string?>? Settings)> { ("baseline", null) };
            sides.AddRange(windows.Select(w => (w == TimeSpan.Zero ? "chat" : $"chat, window {w.TotalMilliseconds:F0} ms", (Dictionary<string, string?>?)new Dictionary<string, string?>
            {
                ["Chat:Fanout:DeliveryWindow"] = w.ToString(),
                ["Chat:Limits:MaxConcurrentGenerationsPerNode"] = "100000",
                ["Chat:Limits:RoomsCreatedPerHour"] = "100000000",
                ["Chat:Limits:MembershipChangesPerMinute"] = "100000000",
            })));
            foreach (var (name, extra) in sides.Where(s => onlySide is null || (s.Settings is null ? "baseline" : "chat") == onlySide))
            {
                var settings = new Dictionary<string, string?>(shared);
                foreach (var (key, value) in extra ?? [])
                {
                    settings[key] = value;
                }

                var kind = extra is null ? "baseline" : "chat";
                var servers = new List<ChildServer>();
                try
                {
                    for (var n = 0; n < nodes; n++)
                    {
                        servers.Add(await ChildServer.StartAsync(kind, settings));
                    }

                    var processes = servers.Select((s, n) => ($"{kind}-node{n + 1}", s.ProcessId, true))
                        .Concat(redis?.ProcessIds.Select(pid => ("redis-server", pid, false)) ?? [])
                        .Append(("bench-clients", Environment.ProcessId, true)).ToList();
                    log($"  {nodes} node{(nodes == 1 ? "" : "s")}, {name}: {string.Join(", ", processes.Select(p => $"{p.Item1} pid {p.Item2}"))}");
                    var urls = servers.Select(s => s.Url).ToList();
                    ServiceUnderTest service = kind == "chat" ? new ChatService(urls, name, checkSeq: true) : new BaselineService(urls, name);
                    // Loads first that are measured nowhere, until the servers' JIT has nearly stopped compiling: a server that has
                    // run for a while runs its optimised code. One small load left the service compiling through its next three
                    // loads of 100 rooms (a quarter of its CPU in the JIT), and it has more code to tier up than the bare hub.
                    await WarmUpAsync(service, servers, nodes, Math.Min(100, loads.Min()), tokens, log);
                    foreach (var (rooms, index) in loads.Select((r, i) => (r, i)))
                    {
                        // A load given more than once (to see it once the code is warm) is profiled under its own name each time.
                        var repeat = loads.Take(index).Count(r => r == rooms);
                        var label = $"{kind}-{nodes}n-{rooms}r" + (repeat == 0 ? "" : $"-{repeat + 1}");
                        Func<Task<LoadProfile>>? startProfile = profile is null ? null : () => LoadProfile.StartAsync(profile, label, processes,
                            TimeSpan.FromSeconds(60 + (tokens * PaceMs / 250.0)), perf, log);
                        var point = await MeasureAsync(service, servers, nodes, rooms, tokens, startProfile, log, redis: redis?.ProcessIds.ToArray());
                        points.Add(point);
                        log(string.Create(Invariant, $"  {nodes} node{(nodes == 1 ? "" : "s")}, {name}, {rooms} rooms: p50 {point.P50:F1} ms, p99 {point.P99:F1} ms, " +
                            $"{point.CpuMicrosPerToken:F1} µs CPU per delivered token, {point.MessagesPerMember:F0} messages per member per reply, {point.Delivered:P1} of tokens delivered, " +
                            $"{point.PoolItemsPerDelta:F1} thread-pool work items per delta{(redis is null ? "" : string.Create(Invariant, $", {point.RedisMicrosPerToken:F1} µs of Redis CPU per delivered token"))}"));
                    }
                }
                finally
                {
                    foreach (var server in servers)
                    {
                        await server.DisposeAsync();
                    }
                }
            }
        }

        foreach (var group in points.GroupBy(p => (p.Nodes, p.Side)))
        {
            var knee = group.FirstOrDefault(p => p.P99 > KneeMs);
            log($"  knee, {group.Key.Nodes} node(s), {group.Key.Side}: {(knee is null ? $"p99 stays under {KneeMs} ms up to {group.Max(p => p.Rooms)} rooms" : $"p99 passes {KneeMs} ms at {knee.Rooms} rooms")}");
        }

        if (filtered)
        {
            return 0;
        }

        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "benchmarks-scaling.svg"), Plot(points, tokens));
        log($"plot in {Path.Combine(output, "benchmarks-scaling.svg")}");
        return 0;
    }

    private static async Task WarmUpAsync(ServiceUnderTest service, List<ChildServer> servers, int nodes, int rooms, int tokens, Action<string> log)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var before = await CompiledAsync(servers);
        for (var round = 1; ; round++)
        {
            await MeasureAsync(service, servers, nodes, rooms, Math.Min(tokens, 80), null, prefix: $"warm{round}");
            var now = await CompiledAsync(servers);
            var added = now - before;
            before = now;
            if (round >= 2 && added < 50 * servers.Count || System.Diagnostics.Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(90))
            {
                log($"  warmed up: {round} loads of {rooms} rooms, {added} methods compiled in the last");
                return;
            }
        }
    }

    /// <summary>The redis-server processes' CPU so far (zero without Redis).</summary>
    private static TimeSpan RedisCpu(int[]? pids) =>
        pids?.Aggregate(TimeSpan.Zero, (sum, pid) => sum + System.Diagnostics.Process.GetProcessById(pid).TotalProcessorTime) ?? TimeSpan.Zero;

    private static async Task<long> CompiledAsync(List<ChildServer> servers)
    {
        var total = 0L;
        foreach (var server in servers)
        {
            total += await server.CompiledMethodsAsync();
        }

        return total;
    }

    private static async Task<long> PoolWorkItemsAsync(List<ChildServer> servers)
    {
        var total = 0L;
        foreach (var server in servers)
        {
            total += await server.PoolWorkItemsAsync();
        }

        return total;
    }

    private static async Task<Point> MeasureAsync(ServiceUnderTest service, List<ChildServer> servers, int nodes, int rooms, int tokens,
        Func<Task<LoadProfile>>? startProfile, Action<string>? log = null, string prefix = "scale", int[]? redis = null)
    {
        var groups = Enumerable.Range(0, rooms).Select(r => (Room: $"{prefix}-{rooms}-{r}", Members: new Member[Members])).ToList();
        var slots = groups.SelectMany((g, r) => Enumerable.Range(0, Members).Select(i => (Group: g, Index: i, Node: (r + i) % nodes))).ToArray();
        await Parallel.ForAsync(0, slots.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var (group, index, node) = slots[i];
            var member = await service.ConnectAsync(node, $"s{rooms}-{i}");
            await service.JoinAsync(member, group.Room);
            group.Members[index] = member;
        });

        try
        {
            var recorder = new Recorder(rooms * Members * (tokens + 1));
            foreach (var member in groups.SelectMany(g => g.Members))
            {
                member.Arm(recorder);
            }

            var profile = startProfile is null ? null : await startProfile();
            var poolBefore = await PoolWorkItemsAsync(servers);
            var cpuBefore = servers.Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Cpu);
            var redisBefore = RedisCpu(redis);
            var request = BenchModel.Request(tokens, PaceMs);
            await Task.WhenAll(groups.Select(g => service.StartAsync(g.Members[0], g.Room, request)));
            await Task.WhenAll(groups.SelectMany(g => g.Members).Select(m => m.Final)).WaitAsync(TimeSpan.FromMinutes(5));
            var cpu = servers.Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Cpu) - cpuBefore;
            var redisCpu = RedisCpu(redis) - redisBefore;
            var poolItems = await PoolWorkItemsAsync(servers) - poolBefore;
            if (profile is not null)
            {
                log?.Invoke("  " + await profile.StopAsync());
            }

            if (service is ChatService)
            {
                log?.Invoke("  " + SeqFigures.Summary(groups.SelectMany(g => g.Members).Select(m => m.Seq.Figures()).ToList()));
            }

            foreach (var (server, n) in servers.Select((s, n) => (s, n)))
            {
                // The server's warnings, alike ones counted once (numbers and ids left out).
                foreach (var group in server.TakeOutput().GroupBy(l => System.Text.RegularExpressions.Regex.Replace(l, @"scale-[\d-]+|\b[0-9a-zA-Z_-]*\d[0-9a-zA-Z_-]*\b", "#")))
                {
                    log?.Invoke($"  node{n + 1} log, {group.Count()}×: {group.First()}");
                }
            }

            var latencies = recorder.Latencies;
            var expected = (double)rooms * Members * tokens;
            return new Point(nodes, service.Name, rooms, Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99),
                cpu.TotalMicroseconds / Math.Max(1, recorder.Tokens), recorder.Messages / (double)(rooms * Members), recorder.Tokens / expected,
                poolItems / Math.Max(1.0, (double)rooms * tokens), redisCpu.TotalMicroseconds / Math.Max(1, recorder.Tokens));
        }
        finally
        {
            await Parallel.ForEachAsync(groups.SelectMany(g => g.Members).Where(m => m is not null).ToArray(),
                new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (m, _) => await m.DisposeAsync());
        }
    }

    /// <summary>Token p99 against rooms (log scale on both axes), one line per side and node count, with the knee line.</summary>
    private static string Plot(List<Point> points, int tokens)
    {
        const int width = 760, height = 420, left = 70, right = 230, top = 40, bottom = 50;
        var rooms = points.Select(p => p.Rooms).Distinct().Order().ToArray();
        var maxP99 = Math.Max(KneeMs * 2, points.Max(p => p.P99));
        double X(int r) => rooms.Length == 1 ? left : left + (Math.Log10(r) - Math.Log10(rooms[0])) / (Math.Log10(rooms[^1]) - Math.Log10(rooms[0])) * (width - left - right);
        double Y(double ms) => top + (1 - (Math.Log10(Math.Max(ms, 1)) / Math.Log10(maxP99))) * (height - top - bottom);
        var colours = new[] { "#6b7280", "#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c" };
        var svg = new StringBuilder();
        svg.AppendLine(Invariant, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine(Invariant, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        svg.AppendLine(Invariant, $"<text x=\"{left}\" y=\"20\" font-size=\"14\">Token p99 by rooms of {Members} at one delta per {PaceMs} ms ({tokens} deltas a reply)</text>");
        foreach (var ms in new[] { 1.0, 10, 100, 1000, 10000 }.Where(m => m <= maxP99))
        {
            svg.AppendLine(Invariant, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(ms):F1}\" y2=\"{Y(ms):F1}\" stroke=\"{(ms == KneeMs ? "#f59e0b" : "#e5e7eb")}\"/>");
            svg.AppendLine(Invariant, $"<text x=\"{left - 8}\" y=\"{Y(ms) + 4:F1}\" text-anchor=\"end\">{ms:0} ms</text>");
        }

        foreach (var r in rooms)
        {
            svg.AppendLine(Invariant, $"<text x=\"{X(r):F1}\" y=\"{height - bottom + 18}\" text-anchor=\"middle\">{r}</text>");
        }

        svg.AppendLine(Invariant, $"<text x=\"{(left + width - right) / 2}\" y=\"{height - 12}\" text-anchor=\"middle\">rooms streaming at once</text>");
        var line = 0;
        var sides = points.Select(p => p.Side).Distinct().ToArray();
        foreach (var group in points.GroupBy(p => $"{p.Side}, {p.Nodes} node{(p.Nodes == 1 ? "" : "s")}"))
        {
            // One colour per side, solid on one node and dashed on two.
            var colour = colours[Array.IndexOf(sides, group.First().Side) % colours.Length];
            var dash = group.First().Nodes == 2 ? " stroke-dasharray=\"6 3\"" : string.Empty;
            var path = string.Join(" ", group.OrderBy(p => p.Rooms).Select((p, i) => string.Create(Invariant, $"{(i == 0 ? 'M' : 'L')}{X(p.Rooms):F1},{Y(p.P99):F1}")));
            svg.AppendLine(Invariant, $"<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>");
            foreach (var p in group)
            {
                svg.AppendLine(Invariant, $"<circle cx=\"{X(p.Rooms):F1}\" cy=\"{Y(p.P99):F1}\" r=\"3\" fill=\"{colour}\"/>");
            }

            var y = top + 10 + (line * 18);
            svg.AppendLine(Invariant, $"<line x1=\"{width - right + 15}\" x2=\"{width - right + 40}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>");
            svg.AppendLine(Invariant, $"<text x=\"{width - right + 46}\" y=\"{y + 4}\">{System.Security.SecurityElement.Escape(group.Key)}</text>");
            line++;
        }

        svg.AppendLine(Invariant, $"<text x=\"{width - right + 15}\" y=\"{top + 20 + (line * 18)}\" fill=\"#b45309\">orange line: the {KneeMs:0} ms knee</text>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private sealed record Point(int Nodes, string Side, int Rooms, double P50, double P99, double CpuMicrosPerToken, double MessagesPerMember, double Delivered,
        double PoolItemsPerDelta, double RedisMicrosPerToken);
}
