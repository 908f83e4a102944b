using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;

namespace SignalRChat.Soak;

/// <summary>
/// Many rooms, each with members spread over the nodes, asking for replies in a loop; some replies
/// are stopped mid-stream, some wait in the room's queue, and members' connections keep being
/// dropped and resumed. At the end every member's text of every reply is compared with the reply's
/// final status text.
/// </summary>
internal sealed class SoakRun(SoakOptions options, TextWriter output)
{
    private static readonly TimeSpan FinalTimeout = TimeSpan.FromSeconds(90);

    private readonly Random _random = new(options.Seed);
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly List<Member> _members = [];
    private int _submitted;
    private int _cancelAttempts;
    private int _cancelled;
    private int _queuedOnPurpose;

    public async Task<bool> RunAsync()
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"soak: {options.Duration.TotalSeconds:0} s, {options.Rooms} rooms x {options.Members} members on {options.Nodes.Count} node(s), seed {options.Seed}"));
        var rooms = Enumerable.Range(1, options.Rooms).Select(i => $"soak-{options.Seed}-{i}").ToList();
        foreach (var (room, r) in rooms.Select((room, r) => (room, r)))
        {
            for (var m = 0; m < options.Members; m++)
            {
                _members.Add(await Member.SignInAsync($"soak{r + 1}m{m + 1}", room, options.Nodes[(r + m) % options.Nodes.Count]));
            }
        }

        foreach (var member in _members)
        {
            await member.JoinAsync();
        }

        var memoryAtStart = ReadMemory();
        var started = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(options.Duration);

        // Growth is judged from a reading after the first quarter (at most 30 s): caches, JIT and heap sizing settle first.
        var warmedUp = Task.Delay(TimeSpan.FromTicks(Math.Min(options.Duration.Ticks / 4, TimeSpan.FromSeconds(30).Ticks)), stop.Token)
            .ContinueWith(_ => ReadMemory(), TaskScheduler.Default);
        var samples = SampleMemoryAsync(stop.Token);
        var drops = DropLoopAsync(stop.Token);
        var loops = rooms.Select(room => RoomLoopAsync(room, _members.Where(m => m.RoomId == room).ToList(), stop.Token)).ToList();
        await Task.WhenAll(loops);
        await drops;
        var ran = started.Elapsed;

        var memoryAtEnd = ReadMemory();
        var memoryWarm = await warmedUp;
        var memoryOverTime = await samples;
        var result = await CheckAsync(rooms);
        foreach (var member in _members)
        {
            await member.DisposeAsync();
        }

        Report(ran, result, memoryAtStart, memoryWarm, memoryAtEnd, memoryOverTime);
        return result.Broken.Count == 0 && result.SeqProblems.Count == 0 && result.MissingFinals.Count == 0 && _errors.IsEmpty;
    }

    private async Task RoomLoopAsync(string roomId, List<Member> members, CancellationToken stop)
    {
        var round = 0;
        while (!stop.IsCancellationRequested)
        {
            round++;
            var sender = Pick(members);
            try
            {
                var text = Chance(0.2) ? $"please calculate {Next(2, 99)}*{Next(2, 99)}" : $"round {round} in {roomId}: tell me something";
                var sent = await sender.CallAsync(c => c.SendMessageAsync(roomId, text), CancellationToken.None);
                Interlocked.Increment(ref _submitted);
                // The soak's rooms keep the default settings: every message starts a reply.
                var waitFor = new List<string> { sent.GenerationId! };

                // Now and then a second message waits in the room's queue; half of those are stopped while waiting.
                if (Chance(0.15))
                {
                    var queued = await Pick(members).CallAsync(c => c.SendMessageAsync(roomId, $"round {round}: and one more"), CancellationToken.None);
                    Interlocked.Increment(ref _submitted);
                    Interlocked.Increment(ref _queuedOnPurpose);
                    waitFor.Add(queued.GenerationId!);
                    if (Chance(0.5))
                    {
                        await CancelAsync(Pick(members), queued.GenerationId!);
                    }
                }

                if (Chance(options.CancelShare))
                {
                    await sender.WaitForTextAsync(sent.GenerationId!, Next(1, 120), FinalTimeout);
                    await CancelAsync(Pick(members), sent.GenerationId!);
                }

                foreach (var generationId in waitFor)
                {
                    await sender.WaitForFinalAsync(generationId, FinalTimeout);
                }
            }
            catch (TimeoutException)
            {
                _errors.Enqueue($"{roomId}: {sender.Name} saw no final status within {FinalTimeout.TotalSeconds} s");
            }
            catch (HubException ex)
            {
                _errors.Enqueue($"{roomId}: the server refused a call: {ex.Message}");
            }
            catch (Exception ex)
            {
                _errors.Enqueue($"{roomId}: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    private async Task CancelAsync(Member member, string generationId)
    {
        Interlocked.Increment(ref _cancelAttempts);
        if (await member.CallAsync(c => c.CancelGenerationAsync(generationId), CancellationToken.None))
        {
            Interlocked.Increment(ref _cancelled);
        }
    }

    private async Task DropLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(options.DropEvery);
        var restarts = new List<Task>();
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var member = Pick(_members);
                if (Chance(0.5))
                {
                    member.AbortTransport();
                }
                else
                {
                    restarts.Add(member.RestartAsync(CancellationToken.None));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var restart in restarts)
        {
            try
            {
                await restart;
            }
            catch (Exception ex)
            {
                _errors.Enqueue($"a member could not reconnect: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    private async Task<CheckResult> CheckAsync(List<string> rooms)
    {
        var result = new CheckResult();
        foreach (var roomId in rooms)
        {
            var members = _members.Where(m => m.RoomId == roomId).ToList();
            var generations = members.SelectMany(m => m.Generations).Distinct(StringComparer.Ordinal).ToList();
            foreach (var generationId in generations)
            {
                // Every member must hear the end of every reply, even one that ended while it was away.
                foreach (var member in members)
                {
                    try
                    {
                        await member.WaitForFinalAsync(generationId, TimeSpan.FromSeconds(30));
                    }
                    catch (TimeoutException)
                    {
                        result.MissingFinals.Add($"{roomId}: {member.Name} never saw the end of {generationId}");
                    }
                }

                var finals = members.Select(m => m.Seen(generationId).Final).OfType<StatusEvent>().ToList();
                if (finals.Count == 0)
                {
                    continue;
                }

                var final = finals[0];
                result.Replies++;
                result.ByState[final.State] = result.ByState.GetValueOrDefault(final.State) + 1;
                result.Characters += final.Text?.Length ?? 0;
                if (final.State == GenerationStates.Failed)
                {
                    _errors.Enqueue($"{roomId}: reply {generationId} failed: {final.Error}");
                }

                if (finals.Any(f => f.Seq != final.Seq || f.Text != final.Text || f.State != final.State))
                {
                    result.Broken.Add($"{roomId}: members saw different final statuses for {generationId}");
                }

                foreach (var member in members)
                {
                    var (text, seen) = member.Seen(generationId);
                    if (seen is null)
                    {
                        continue;
                    }

                    result.Compared++;
                    if (text != seen.Text)
                    {
                        var kind = text.Length > (seen.Text?.Length ?? 0) ? "doubled" : "lost";
                        result.Broken.Add($"{roomId}: {member.Name} has {text.Length} characters of {generationId}, the final status {seen.Text?.Length ?? 0} ({kind})");
                    }
                }
            }

            foreach (var member in members)
            {
                result.SeqProblems.AddRange(member.SeqProblems.Select(p => $"{roomId}: {p}"));
            }
        }

        return result;
    }

    /// <summary>Reads each node's memory ten times over the run, so a steady climb (a leak) can be told from settling.</summary>
    private async Task<List<List<long?>>> SampleMemoryAsync(CancellationToken stop)
    {
        var samples = new List<List<long?>>();
        var every = options.Duration / 10;
        while (true)
        {
            try
            {
                await Task.Delay(every, stop);
            }
            catch (OperationCanceledException)
            {
                return samples;
            }

            samples.Add(ReadMemory());
        }
    }

    private List<long?> ReadMemory() => options.Nodes.Select(n => n.Pid is { } pid ? MemoryReader.RssBytes(pid) : null).ToList();

    private void Report(TimeSpan ran, CheckResult result, List<long?> memoryAtStart, List<long?> memoryWarm, List<long?> memoryAtEnd, List<List<long?>> memoryOverTime)
    {
        var w = output;
        var states = string.Join(", ", result.ByState.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ran {ran.TotalSeconds:0} s: {_submitted} messages sent, {result.Replies} replies ({states}), {result.Characters} characters of reply text"));
        w.WriteLine($"stops: {_cancelAttempts} asked, {_cancelled} stopped a reply; {_queuedOnPurpose} replies sent to wait in a queue");
        w.WriteLine($"drops: {_members.Sum(m => m.TransportAborts)} transport aborts, {_members.Sum(m => m.Restarts)} restarts with Resume, {_members.Sum(m => m.Resets)} resets (history too old to resume)");
        w.WriteLine($"checked: {result.Compared} member views of replies, {_members.Sum(m => m.EventsSeen)} events in seq order");
        w.WriteLine($"lost or doubled tokens: {result.Broken.Count}; seq breaks: {result.SeqProblems.Count}; missing final statuses: {result.MissingFinals.Count}");
        foreach (var problem in result.Broken.Concat(result.SeqProblems).Concat(result.MissingFinals).Take(20))
        {
            w.WriteLine("  " + problem);
        }

        for (var i = 0; i < options.Nodes.Count; i++)
        {
            var (start, warm, end) = (memoryAtStart[i], memoryWarm[i], memoryAtEnd[i]);
            w.WriteLine(start is { } s && warm is { } m && end is { } e
                ? string.Create(CultureInfo.InvariantCulture,
                    $"memory of {options.Nodes[i].Url} (VmRSS): {Mb(s)} MB at start, {Mb(m)} MB warmed up, {Mb(e)} MB at the end: {(e - m) / 1048576.0:+0.0;-0.0} MB ({(e - m) * 100.0 / m:+0;-0}%) since warm-up")
                : $"memory of {options.Nodes[i].Url}: not read (no process id, or not on Linux)");
            var node = i;
            var series = memoryOverTime.Select(sample => sample[node]).OfType<long>().ToList();
            if (series.Count >= 4)
            {
                // A leak climbs as fast in the second half as in the first; settling memory does not.
                var half = series.Count / 2;
                w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  VmRSS every tenth of the run (MB): {string.Join(" ", series.Select(Mb))}; first half {(series[half] - series[0]) / 1048576.0:+0.0;-0.0} MB, second half {(series[^1] - series[half]) / 1048576.0:+0.0;-0.0} MB"));
            }
        }

        w.WriteLine($"errors: {_errors.Count}");
        foreach (var error in _errors.Take(20))
        {
            w.WriteLine("  " + error);
        }
    }

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);

    private T Pick<T>(IReadOnlyList<T> items)
    {
        lock (_random)
        {
            return items[_random.Next(items.Count)];
        }
    }

    private bool Chance(double share)
    {
        lock (_random)
        {
            return _random.NextDouble() < share;
        }
    }

    private int Next(int min, int max)
    {
        lock (_random)
        {
            return _random.Next(min, max);
        }
    }

    private sealed class CheckResult
    {
        public int Replies { get; set; }

        public int Compared { get; set; }

        public long Characters { get; set; }

        public Dictionary<string, int> ByState { get; } = new(StringComparer.Ordinal);

        public List<string> Broken { get; } = [];

        public List<string> SeqProblems { get; } = [];

        public List<string> MissingFinals { get; } = [];
    }
}

/// <summary>Resident memory of a process, from <c>/proc/PID/status</c>.</summary>
internal static class MemoryReader
{
    public static long? RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
