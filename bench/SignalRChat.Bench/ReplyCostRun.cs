using System.Diagnostics;
using System.Globalization;
using System.Text;
using SignalRChat.Contracts;

namespace SignalRChat.Bench;

/// <summary>
/// Server CPU per reply against the AIStreaming sample's way (microsoft/SignalR-Samples-AI), printed:
/// one room, one reply at a time streamed from an OpenAI-compatible server over HTTP (<see cref="WireServer"/>,
/// 400 stamped deltas at one per 5 ms) to every member, for each side in the same run: the bare hub (one
/// send per delta), the sample's way (the whole text so far to the group whenever it has grown by more than
/// 20 characters), then the chat service with each <c>Chat:Fanout:DeliveryWindow</c>. The servers run in child
/// processes, so their CPU is their own, and the wire server runs in this one, so no side's CPU holds it.
/// Members read on bare WebSockets, so every WebSocket message and byte is counted; the chat service's members
/// ask for the contract's defaults, or with <c>--compact</c> for what the repository's clients ask for
/// (<c>tokens=compact</c>, <c>finalText=omit</c>).
/// <c>--reply-cost [--members 10,100] [--replies 5] [--deltas 400] [--window 0,00:00:00.016,00:00:00.033,00:00:00.050] [--compact] [--smoke]</c>.
/// </summary>
internal static class ReplyCostRun
{
    private const int PaceMs = 5;
    private const string Sample = "AIStreaming way";
    private const string BareHub = "bare hub";
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromMinutes(2);

    public static async Task<int> RunAsync(string[] args, Action<string> log)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var smoke = args.Contains("--smoke");
        var memberCounts = (Arg("--members") ?? (smoke ? "10" : "10,100")).Split(',').Select(m => int.Parse(m, Invariant)).ToArray();
        var replies = int.Parse(Arg("--replies") ?? (smoke ? "1" : "5"), Invariant);
        var deltas = int.Parse(Arg("--deltas") ?? (smoke ? "100" : "400"), Invariant);
        var windows = (Arg("--window") ?? "0,00:00:00.016,00:00:00.033,00:00:00.050").Split(',')
            .Select(w => w == "0" ? TimeSpan.Zero : TimeSpan.Parse(w, Invariant)).Prepend(TimeSpan.Zero).Distinct().ToArray();
        var query = args.Contains("--compact") ? $"{ChatProtocol.Query.Tokens}={ChatProtocol.Query.Compact}&{ChatProtocol.Query.FinalText}={ChatProtocol.Query.Omit}" : null;
        FileLimit.Raise(8192);
        log(string.Create(Invariant, $"reply cost: one room, {replies} replies a measurement of {deltas} deltas at one per {PaceMs} ms from an OpenAI-compatible server; " +
            $"members {string.Join(", ", memberCounts)}; chat members ask for {query ?? "the contract's defaults"}; {Environment.ProcessorCount} cores, .NET {Environment.Version}"));

        await using var wire = await WireServer.StartAsync();
        wire.Deltas = deltas;
        wire.PaceMs = PaceMs;
        var endpoint = new Uri(wire.Url, "v1").ToString();
        var sides = new List<Side>
        {
            new(BareHub, "baseline", "Start", null, new() { [ChildServer.BaselineWireSetting] = endpoint }),
            new(Sample, "baseline", "StartWhole", null, new() { [ChildServer.BaselineWireSetting] = endpoint }),
        };
        sides.AddRange(windows.Select(w => new Side(WindowName(w), "chat", ChatProtocol.Methods.SendMessage, query, new()
        {
            ["Chat:Model:Provider"] = "OpenAI",
            ["Chat:OpenAI:Endpoint"] = endpoint,
            ["Chat:OpenAI:Model"] = "wire",
            ["Chat:OpenAI:ApiKey"] = "bench-key",
            ["Chat:Fanout:DeliveryWindow"] = w.ToString(),
            ["Chat:Limits:RoomsCreatedPerHour"] = "100000000",
            ["Chat:Limits:MembershipChangesPerMinute"] = "100000000",
        })));

        var rows = new List<Row>();
        foreach (var side in sides)
        {
            await using var server = await ChildServer.StartAsync(side.Kind, side.Settings);
            foreach (var members in memberCounts)
            {
                var row = await MeasureAsync(side, server, wire, members, replies, deltas);
                rows.Add(row);
                log(string.Create(Invariant, $"  {row.Side}, {members} members: {row.CpuMsPerReply:F1} ms server CPU per reply ({row.IdleCpuMs:F0} ms idle for as long), {row.Messages:F1} WebSocket messages " +
                    $"({row.Invocations:F1} hub invocations) and {row.Bytes / 1024:F1} KiB per member per reply, first text p50 {row.FirstTextP50:F1} ms, " +
                    $"token p50 {row.P50:F2} ms, p99 {row.P99:F2} ms, {row.Complete:P1} of member replies complete, deltas every {row.PaceMs:F2} ms"));
            }
        }

        log(string.Empty);
        log("| side | members | server CPU per reply (ms) | × sample's | × window 0 | WebSocket messages per member per reply | KiB per member per reply | first text p50 (ms) | token p50 (ms) | token p99 (ms) |");
        log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var row in rows.OrderBy(r => r.Members))
        {
            var sample = rows.First(r => r.Members == row.Members && r.Side == Sample);
            var window0 = rows.First(r => r.Members == row.Members && r.Side == WindowName(TimeSpan.Zero));
            log(string.Create(Invariant, $"| {row.Side} | {row.Members} | {row.CpuMsPerReply:F1} | {row.CpuMsPerReply / sample.CpuMsPerReply:F2}× | " +
                $"{row.CpuMsPerReply / window0.CpuMsPerReply:F2}× | {row.Messages:F1} | {row.Bytes / 1024:F1} | {row.FirstTextP50:F1} | {row.P50:F2} | {row.P99:F2} |"));
        }

        // Issue #19's target: at the most members, server CPU per reply at most the sample's, with token p99 still at most 20 ms.
        var most = memberCounts.Max();
        var sampleCpu = rows.First(r => r.Members == most && r.Side == Sample).CpuMsPerReply;
        var meeting = rows.Where(r => r.Members == most && r.Side.StartsWith("chat", StringComparison.Ordinal) && r.CpuMsPerReply <= sampleCpu && r.P99 <= 20).ToList();
        log(string.Empty);
        log(meeting.Count == 0
            ? $"at {most} members no delivery window measured meets both CPU per reply ≤ the sample's and token p99 ≤ 20 ms"
            : $"at {most} members these meet both CPU per reply ≤ the sample's and token p99 ≤ 20 ms: {string.Join(", ", meeting.Select(r => r.Side))}");
        return rows.All(r => r.Complete == 1) ? 0 : 1;
    }

    /// <summary>At least two replies, then more until one compiles fewer than <see cref="QuietJit"/> methods on the server, for at most <see cref="WarmUpLongest"/>.</summary>
    private static async Task WarmUpAsync(Side side, ChildServer server, Reader[] readers, string room, int members, int deltas)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var compiled = await server.CompiledMethodsAsync();
        for (var round = 1; ; round++)
        {
            await ReplyAsync(side, readers, room, new Recorder(members * (deltas + 1)));
            var now = await server.CompiledMethodsAsync();
            var quiet = now - compiled < QuietJit;
            compiled = now;
            if (round >= 2 && (quiet || watch.Elapsed > WarmUpLongest))
            {
                return;
            }
        }
    }

    private const int QuietJit = 20;

    private static readonly TimeSpan WarmUpLongest = TimeSpan.FromSeconds(30);

    private static string WindowName(TimeSpan window) =>
        window == TimeSpan.Zero ? "chat, window 0" : string.Create(Invariant, $"chat, window {window.TotalMilliseconds:0.#} ms");

    private static async Task<Row> MeasureAsync(Side side, ChildServer server, WireServer wire, int members, int replies, int deltas)
    {
        var chat = side.Kind == "chat";
        ServiceUnderTest service = chat ? new ChatService([server.Url]) : new BaselineService([server.Url]);
        var room = $"cost-{members}-{Guid.NewGuid().ToString("N")[..8]}";
        var readers = new Reader[members];
        using var stop = new CancellationTokenSource();
        await Parallel.ForAsync(0, members, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var token = await service.TokenAsync(server.Url, $"cost{members}-{i}");
            var socket = await RawHubSocket.ConnectAsync(RawHubSocket.WebSocketUri(server.Url, service.HubPath, token, side.Query), CancellationToken.None);
            using var timeout = new CancellationTokenSource(ReplyTimeout);
            await socket.InvokeAsync(chat ? ChatProtocol.Methods.JoinRoom : "Join", room, timeout.Token);
            while (await socket.ReceiveMessageAsync(timeout.Token) is var message && message.Type != HubMessage.Completion)
            {
            }

            readers[i] = new Reader(socket, whole: side.Start == "StartWhole", stop.Token);
        });

        try
        {
            // Replies first, measured nowhere, until the server's JIT has nearly stopped compiling (its tier-up of the code
            // every reply runs took a third of the service's CPU over the replies after a single warm-up reply).
            await WarmUpAsync(side, server, readers, room, members, deltas);

            // A second for the runtime to finish recompiling what the first reply made hot, then what the server spends
            // doing nothing for as long as a reply streams: the floor under the figure per reply.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var idleBefore = server.Cpu;
            await Task.Delay(deltas * PaceMs);
            var idle = server.Cpu - idleBefore;

            var recorder = new Recorder(replies * members * (deltas + 1));
            var cpuBefore = server.Cpu;
            var firstText = new List<double>();
            long messages = 0, invocations = 0, bytes = 0, complete = 0;
            var pace = 0.0;
            for (var r = 0; r < replies; r++)
            {
                var asked = await ReplyAsync(side, readers, room, recorder);
                pace += wire.LastPaceMs / replies;
                foreach (var reader in readers)
                {
                    messages += reader.Messages;
                    invocations += reader.Invocations;
                    bytes += reader.Bytes;
                    complete += reader.Stamps == deltas ? 1 : 0;
                    firstText.Add(reader.FirstText == 0 ? double.NaN : Stats.Ms(reader.FirstText - asked));
                }
            }

            var cpu = server.Cpu - cpuBefore;
            var latencies = recorder.Latencies;
            var count = (double)replies * members;
            return new Row(side.Name, members, cpu.TotalMilliseconds / replies, idle.TotalMilliseconds, messages / count, invocations / count, bytes / count,
                Stats.Percentile(firstText.Where(t => !double.IsNaN(t)).ToArray(), 50), Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99), complete / count, pace);
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var reader in readers.Where(r => r is not null))
            {
                await reader.DisposeAsync();
            }
        }
    }

    /// <summary>Asks for one reply from the first member and waits until every member has its end; returns when it was asked.</summary>
    private static async Task<long> ReplyAsync(Side side, Reader[] readers, string room, Recorder recorder)
    {
        foreach (var reader in readers)
        {
            reader.Arm(recorder);
        }

        using var timeout = new CancellationTokenSource(ReplyTimeout);
        var asked = Stopwatch.GetTimestamp();
        await readers[0].Socket.InvokeAsync(side.Start, [room, "Tell the room a story."], timeout.Token);
        await Task.WhenAll(readers.Select(r => r.Final)).WaitAsync(ReplyTimeout);

        // The readers send nothing else, and the server drops a client it has not heard from for 30 s.
        foreach (var reader in readers)
        {
            await reader.Socket.PingAsync(timeout.Token);
        }

        return asked;
    }

    /// <param name="Query">What the members' hub URL asks for, if anything.</param>
    private sealed record Side(string Name, string Kind, string Start, string? Query, Dictionary<string, string?> Settings);

    private sealed record Row(string Side, int Members, double CpuMsPerReply, double IdleCpuMs, double Messages, double Invocations, double Bytes,
        double FirstTextP50, double P50, double P99, double Complete, double PaceMs);

    /// <summary>
    /// One member on a bare WebSocket, reading until disposed. Armed for a reply, it counts what arrives until the
    /// reply's final status: WebSocket messages, hub invocations, bytes, the first text, and the stamps it holds.
    /// </summary>
    private sealed class Reader : IAsyncDisposable
    {
        private readonly bool _whole;
        private readonly Task _loop;
        private Recorder? _recorder;
        private TaskCompletionSource _final = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _messagesAtArm;
        private long _bytesAtArm;
        private long _firstText;
        private int _invocations;
        private int _stamps;

        public Reader(RawHubSocket socket, bool whole, CancellationToken stop)
        {
            Socket = socket;
            _whole = whole;
            _loop = Task.Run(() => ReadAsync(stop), CancellationToken.None);
        }

        public RawHubSocket Socket { get; }

        public Task Final => _final.Task;

        /// <summary>The Stopwatch time the reply's first text arrived, 0 if none did.</summary>
        public long FirstText => Interlocked.Read(ref _firstText);

        public int Invocations => Volatile.Read(ref _invocations);

        /// <summary>The stamps the reply brought: all deltas received, or those of the newest whole text.</summary>
        public int Stamps => Volatile.Read(ref _stamps);

        public long Messages { get; private set; }

        public long Bytes { get; private set; }

        public void Arm(Recorder recorder)
        {
            _messagesAtArm = Socket.WebSocketMessages;
            _bytesAtArm = Socket.BytesReceived;
            Interlocked.Exchange(ref _firstText, 0);
            Volatile.Write(ref _invocations, 0);
            Volatile.Write(ref _stamps, 0);
            Volatile.Write(ref _recorder, recorder);
            _final = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        private async Task ReadAsync(CancellationToken stop)
        {
            try
            {
                while (true)
                {
                    var message = await Socket.ReceiveMessageAsync(stop);
                    if (message.Type == HubMessage.Completion && message.Error is { } error)
                    {
                        _final.TrySetException(new InvalidOperationException(error));
                        continue;
                    }

                    if (message.Type != HubMessage.Invocation)
                    {
                        continue;
                    }

                    Interlocked.Increment(ref _invocations);
                    if (message.Target is ChatProtocol.Events.Token or ChatProtocol.CompactEvents.Token or ChatProtocol.CompactEvents.TokenRun or BaselineHub.WholeTextEvent
                        && (message.Argument ?? message.Text) is { } text)
                    {
                        Interlocked.CompareExchange(ref _firstText, Stopwatch.GetTimestamp(), 0);
                        var stamps = Volatile.Read(ref _recorder)?.ReceiveWire(text, _whole) ?? 0;
                        if (_whole)
                        {
                            Volatile.Write(ref _stamps, stamps);
                        }
                        else
                        {
                            Interlocked.Add(ref _stamps, stamps);
                        }
                    }
                    else if (message.Target == ChatProtocol.Events.Status && (message.State ?? message.Argument) is "completed" or "cancelled" or "failed")
                    {
                        Messages = Socket.WebSocketMessages - _messagesAtArm;
                        Bytes = Socket.BytesReceived - _bytesAtArm;
                        _final.TrySetResult();
                    }
                }
            }
            catch (Exception ex)
            {
                _final.TrySetException(ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Socket.DisposeAsync();
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
