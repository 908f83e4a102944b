using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using SignalRChat.Contracts;

namespace SignalRChat.Bench;

/// <summary>One reported number of the chat service beside the same number of the baseline.</summary>
internal sealed record Figure(string Scenario, string Metric, string Unit, double Chat, double? Baseline, string Target, bool? Met, string? Note = null)
{
    public double? Ratio => Baseline is { } b && b != 0 && !double.IsNaN(b) ? Chat / b : null;
}

internal sealed class Scenarios(BenchSettings settings, Action<string> log)
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(120);
    private int _users;
    private int _rooms;

    public List<Figure> Figures { get; } = [];

    /// <summary>One reply to every room at once, as fast as the model yields (tokens/s), then at a model's pace (latency).</summary>
    public async Task FanOutAsync(ServiceUnderTest chat, ServiceUnderTest baseline, int rooms, int members, string label, double? latencyTarget,
        ServiceUnderTest? shapedBaseline = null, ServiceUnderTest? joinedBaseline = null)
    {
        var results = new Dictionary<string, (double Rate, double P50, double P99, double Delivered)>();
        var services = new[] { baseline, shapedBaseline, joinedBaseline, chat }.OfType<ServiceUnderTest>();
        foreach (var service in services)
        {
            var groups = await ConnectRoomsAsync(service, rooms, members);
            try
            {
                await WarmUpAsync(service, groups, label);

                // A burst lasts a few milliseconds: one collection of the bench process (servers and clients share it) that
                // falls inside it decides its rate. The median of several bursts is the figure; each side gets the same.
                var bursts = new List<(Recorder Recorder, int Collections, TimeSpan Pause)>();
                for (var run = 0; run < settings.BurstRuns; run++)
                {
                    var (collections, pause) = (GC.CollectionCount(0), GC.GetTotalPauseDuration());
                    var one = await RunReplyAsync(service, groups, BenchModel.Request(settings.BurstTokens, 0));
                    bursts.Add((one, GC.CollectionCount(0) - collections, GC.GetTotalPauseDuration() - pause));
                }

                var burst = bursts.OrderBy(b => b.Recorder.TokensPerSecond).ElementAt(bursts.Count / 2).Recorder;
                var paced = await RunReplyAsync(service, groups, BenchModel.Request(settings.PacedTokens, settings.PaceMs));
                var latencies = paced.Latencies;
                results[service.Name] = (burst.TokensPerSecond, Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99),
                    burst.Tokens / (double)(rooms * members * settings.BurstTokens));
                log($"  {label} {service.Name}: {burst.TokensPerSecond:N0} tokens/s ({burst.Messages / (double)(rooms * members):F0} messages per member for {settings.BurstTokens} deltas; " +
                    $"median of {bursts.Count} bursts: {string.Join(", ", bursts.Select(b => $"{b.Recorder.TokensPerSecond / 1000:N0}k" + (b.Collections > 0 ? $" (GC {b.Pause.TotalMilliseconds:F0} ms)" : string.Empty)))}; " +
                    $"the model yielded the median's over {burst.Spans.Yielding:F2} ms, its last arrived {burst.Spans.Tail:F2} ms after), " +
                    $"p50 {results[service.Name].P50:F2} ms, p99 {results[service.Name].P99:F2} ms");
            }
            finally
            {
                await DisposeAllAsync(groups.SelectMany(g => g.Members));
            }
        }

        var c = results[chat.Name];
        var b = results[baseline.Name];
        Figures.Add(new Figure(label, "delivered tokens/s", "tokens/s", c.Rate, b.Rate, "≥ 0.9× baseline", c.Rate >= 0.9 * b.Rate,
            c.Delivered < 1 ? $"{c.Delivered:P0} of the deltas arrived as separate events (the rest joined for lagging readers)" : null));
        if (shapedBaseline is not null)
        {
            var s = results[shapedBaseline.Name];
            Figures.Add(new Figure(label, "delivered tokens/s against a baseline sending the chat's token event shape", "tokens/s", c.Rate, s.Rate, "—", null,
                "the same bare hub, each token sent as {roomId, generationId, seq, text}: what the payload costs the clients apart from the service's work"));
        }

        if (joinedBaseline is not null)
        {
            var j = results[joinedBaseline.Name];
            Figures.Add(new Figure(label, "delivered tokens/s against a bare hub that joins waiting deltas", "tokens/s", c.Rate, j.Rate, "≥ 0.9×", c.Rate >= 0.9 * j.Rate,
                "the fair row: the bare hub joins the tokens that wait while a send is under way into its next send, as the service does, so the ratio measures the service's own machinery"));
        }

        Figures.Add(new Figure(label, "token latency p50", "ms", c.P50, b.P50, "—", null));
        Figures.Add(new Figure(label, "token latency p99", "ms", c.P99, b.P99, latencyTarget is { } t ? $"≤ {t} ms" : "—", latencyTarget is { } limit ? c.P99 <= limit : null));
    }

    // Warm-up goes on past its rounds while the JIT still compiles, up to this long.
    private static readonly TimeSpan WarmUpLongest = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Unmeasured replies, a burst and a short one at a model's pace, until the process's JIT has (nearly) stopped compiling:
    /// a server that has run for a while runs its optimised code, and tier-up compilation of the side under test (more
    /// code for the service than for the bare hub) would otherwise land inside its first measured replies.
    /// </summary>
    private async Task WarmUpAsync(ServiceUnderTest service, List<(string Room, List<Member> Members)> groups, string label)
    {
        if (settings.WarmUpRounds == 0)
        {
            return;
        }

        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        var rounds = 0;
        var added = 0L;
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            rounds++;
            await RunReplyAsync(service, groups, BenchModel.Request(settings.BurstTokens, 0));
            await RunReplyAsync(service, groups, BenchModel.Request(Math.Max(10, settings.PacedTokens / 4), settings.PaceMs));

            // Background tier-up waits for a quiet 100 ms before it compiles what became hot.
            await Task.Delay(TimeSpan.FromMilliseconds(200));
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            added = now - compiled;
            compiled = now;
            if (rounds >= settings.WarmUpRounds && (added < 20 || Stopwatch.GetElapsedTime(started) >= WarmUpLongest))
            {
                break;
            }
        }

        log($"  {label} {service.Name}: warmed up in {rounds} round(s), {added} methods compiled in the last");
    }

    /// <summary>A member asks to stop a running reply; the time until its own client shows the final status.</summary>
    public async Task CancelAsync(ServiceUnderTest chat, ServiceUnderTest baseline, string label, double target)
    {
        var results = new Dictionary<string, double[]>();
        foreach (var service in new[] { baseline, chat })
        {
            var room = NewRoom("cancel");
            var starter = await service.ConnectAsync(0, NewUser());
            var stopper = await service.ConnectAsync(service.Nodes.Count - 1, NewUser());
            try
            {
                await service.JoinAsync(starter, room);
                await service.JoinAsync(stopper, room);
                var times = new List<double>();
                for (var i = 0; i < settings.CancelRuns; i++)
                {
                    var recorder = new Recorder(1_000_000);
                    starter.Arm(recorder);
                    stopper.Arm(recorder, reachAt: 3);
                    var id = await service.StartAsync(starter, room, BenchModel.Request(100_000, settings.PaceMs));
                    await stopper.Reached.WaitAsync(ReplyTimeout);
                    var asked = Stopwatch.GetTimestamp();
                    await service.CancelAsync(stopper, id);
                    var state = await stopper.Final.WaitAsync(ReplyTimeout);
                    times.Add(Stats.Ms(Stopwatch.GetTimestamp() - asked));
                    await starter.Final.WaitAsync(ReplyTimeout);
                    if (state != "cancelled")
                    {
                        throw new InvalidOperationException($"{service.Name}: the reply ended {state}, not cancelled");
                    }
                }

                results[service.Name] = [.. times];
                log($"  {label} {service.Name}: p50 {Stats.Percentile(times, 50):F2} ms, p99 {Stats.Percentile(times, 99):F2} ms");
            }
            finally
            {
                await DisposeAllAsync([starter, stopper]);
            }
        }

        AddPercentiles(label, "cancel → cancelled status", results[chat.Name], results[baseline.Name], null, target);
    }

    /// <summary>Time from asking to the first token at the asker, minus the model's own (asked → first yield).</summary>
    public async Task TimeToFirstTokenAsync(ServiceUnderTest chat, ServiceUnderTest baseline, double target)
    {
        var added = new Dictionary<string, double[]>();
        var own = new Dictionary<string, double>();
        foreach (var service in new[] { baseline, chat })
        {
            var room = NewRoom("ttft");
            var member = await service.ConnectAsync(0, NewUser());
            try
            {
                await service.JoinAsync(member, room);
                var times = new List<double>();
                var model = new List<double>();
                for (var i = 0; i < settings.TtftRuns + 3; i++)
                {
                    var recorder = new Recorder(16);
                    member.Arm(recorder);
                    var asked = Stopwatch.GetTimestamp();
                    await service.StartAsync(member, room, BenchModel.Request(1, 0));
                    await member.Final.WaitAsync(ReplyTimeout);
                    if (i < 3)
                    {
                        continue; // warm-up
                    }

                    var total = Stats.Ms(member.FirstReceipt - asked);
                    var modelOwn = Stats.Ms(recorder.ModelTtftTicks);
                    model.Add(modelOwn);
                    times.Add(total - modelOwn);
                }

                added[service.Name] = [.. times];
                own[service.Name] = Stats.Percentile(model, 50);
                log($"  ttft {service.Name}: added p50 {Stats.Percentile(times, 50):F2} ms (model's own p50 {own[service.Name]:F3} ms)");
            }
            finally
            {
                await member.DisposeAsync();
            }
        }

        var c = added[chat.Name];
        var b = added[baseline.Name];
        Figures.Add(new Figure("time to first token", "ask → first token, over the model's own, p50", "ms", Stats.Percentile(c, 50), Stats.Percentile(b, 50),
            $"≤ {target} ms added", Stats.Percentile(c, 50) <= target,
            "the baseline's figure is the bare hub call and send; the target is read against the chat service's own figure"));
        Figures.Add(new Figure("time to first token", "ask → first token, over the model's own, p99", "ms", Stats.Percentile(c, 99), Stats.Percentile(b, 99), "—", null));
    }

    /// <summary>Stop while an OpenAI-compatible server streams; the time until that server sees its request closed.</summary>
    public async Task UpstreamAbortAsync(WireServer wire, ServiceUnderTest chat, double target)
    {
        var chatTimes = new List<double>();
        var room = NewRoom("abort");
        var member = await chat.ConnectAsync(0, NewUser());
        try
        {
            await chat.JoinAsync(member, room);
            for (var i = 0; i < settings.AbortRuns; i++)
            {
                wire.Reset();
                member.Arm(new Recorder(1_000_000), reachAt: 3);
                var id = await chat.StartAsync(member, room, "stream until stopped");
                await member.Reached.WaitAsync(ReplyTimeout);
                var asked = Stopwatch.GetTimestamp();
                await chat.CancelAsync(member, id);
                var closed = await wire.Closed.WaitAsync(ReplyTimeout);
                chatTimes.Add(Stats.Ms(closed - asked));
                await member.Final.WaitAsync(ReplyTimeout);
            }
        }
        finally
        {
            await member.DisposeAsync();
        }

        // The baseline: the same request made and dropped by a bare HttpClient.
        var bareTimes = new List<double>();
        // Without draining: an unread response would otherwise be read on for up to two seconds before the connection closes.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 });
        for (var i = 0; i < settings.AbortRuns; i++)
        {
            wire.Reset();
            using var cancel = new CancellationTokenSource();
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(wire.Url, "v1/chat/completions")) { Content = JsonContent.Create(new { model = "wire", stream = true }) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token)))
            {
                for (var chunks = 0; chunks < 3;)
                {
                    var line = await reader.ReadLineAsync(cancel.Token);
                    chunks += line?.StartsWith("data:", StringComparison.Ordinal) == true ? 1 : 0;
                }

                var asked = Stopwatch.GetTimestamp();
                await cancel.CancelAsync();
                response.Dispose();
                var closed = await wire.Closed.WaitAsync(ReplyTimeout);
                bareTimes.Add(Stats.Ms(closed - asked));
            }
        }

        log($"  upstream abort: chat p50 {Stats.Percentile(chatTimes, 50):F2} ms, bare HttpClient p50 {Stats.Percentile(bareTimes, 50):F2} ms");
        AddPercentiles("upstream abort (OpenAI-wire server)", "stop → upstream request closed", [.. chatTimes], [.. bareTimes], target, null,
            "baseline: a bare HttpClient dropping the same streaming request");
    }

    /// <summary>Bytes a member receives for one reply (WebSocket payload and frame headers) against the reply's text, in the services' protocol.</summary>
    /// <param name="omitFinalText">The chat's reader connects with <c>finalText=omit</c>, as the repository's clients can: the final status comes without the whole text.</param>
    /// <param name="compactTokens">The chat's reader connects with <c>tokens=compact</c>, as the repository's clients do: deltas as <c>t(roomNumber, seq, text)</c>.</param>
    public async Task BytesAsync(ServiceUnderTest chat, ServiceUnderTest baseline, bool omitFinalText = false, bool compactTokens = false)
    {
        var text = Encoding.UTF8.GetByteCount(string.Concat(BenchModel.StreamWords(settings.BytesTokens)));
        var results = new Dictionary<string, (long Bytes, long Carried, int Events, long TokenFraming, int Tokens)>();
        foreach (var service in new[] { baseline, chat })
        {
            var room = NewRoom("bytes");
            var sender = await service.ConnectAsync(0, NewUser());
            var token = await service.TokenAsync(service.Nodes[0], NewUser());
            var asked = service != chat ? [] : new[]
            {
                omitFinalText ? $"{ChatProtocol.Query.FinalText}={ChatProtocol.Query.Omit}" : null,
                compactTokens ? $"{ChatProtocol.Query.Tokens}={ChatProtocol.Query.Compact}" : null,
            }.OfType<string>().ToArray();
            var query = asked.Length == 0 ? null : string.Join('&', asked);
            await using var reader = await RawHubSocket.ConnectAsync(RawHubSocket.WebSocketUri(service.Nodes[0], service.HubPath, token, query), CancellationToken.None, service.Protocol);
            try
            {
                using var timeout = new CancellationTokenSource(ReplyTimeout);
                await reader.InvokeAsync(service is ChatService ? "JoinRoom" : "Join", room, timeout.Token);
                while ((await reader.ReceiveMessageAsync(timeout.Token)).Type != HubMessage.Completion)
                {
                }

                await service.JoinAsync(sender, room);
                sender.Arm(new Recorder(16));
                var before = reader.BytesReceived;
                await service.StartAsync(sender, room, BenchModel.Request(settings.BytesTokens, 1, words: true));
                long carried = 0, framedTokens = 0;
                var events = 0;
                var tokens = 0;
                while (true)
                {
                    var message = await reader.ReceiveMessageAsync(timeout.Token);
                    if (message.Type != HubMessage.Invocation)
                    {
                        continue;
                    }

                    events++;
                    if (message.Target is "token" or ChatProtocol.CompactEvents.Token or ChatProtocol.CompactEvents.TokenRun)
                    {
                        // The message itself and the 2-byte header of the small WebSocket frame it would go in alone.
                        tokens++;
                        framedTokens += reader.LastMessageBytes + 2 - Encoding.UTF8.GetByteCount(message.Argument ?? message.Text ?? string.Empty);
                    }

                    bool final;
                    if (message.Argument is { } argument)
                    {
                        carried += message.Target == "token" ? Encoding.UTF8.GetByteCount(argument) : 0;
                        final = message.Target == "status";
                    }
                    else
                    {
                        carried += message.Text is { } carriedText ? Encoding.UTF8.GetByteCount(carriedText) : 0;
                        final = message.Target == "status" && message.State is "completed" or "cancelled" or "failed";
                    }

                    if (final)
                    {
                        break;
                    }
                }

                results[service.Name] = (reader.BytesReceived - before, carried, events, framedTokens, tokens);
                log($"  bytes {service.Name}: {reader.BytesReceived - before} bytes in {events} events for {text} bytes of text (text carried {carried})");
                await sender.Final.WaitAsync(ReplyTimeout);
            }
            finally
            {
                await sender.DisposeAsync();
            }
        }

        var c = results[chat.Name];
        var b = results[baseline.Name];
        var over = (chat.Protocol == WireProtocol.MessagePack ? ", MessagePack" : string.Empty) + (omitFinalText ? ", finalText=omit" : string.Empty)
            + (compactTokens ? ", tokens=compact" : string.Empty);
        var label = $"bytes per reply{over} ({settings.BytesTokens} tokens, {text} bytes of text)";
        Figures.Add(new Figure(label, "bytes received / text bytes", "×", (double)c.Bytes / text, (double)b.Bytes / text, "—", null,
            $"chat {c.Bytes} bytes in {c.Events} events, baseline {b.Bytes} bytes in {b.Events} events"));
        var framing = (double)(c.Bytes - c.Carried) / c.Events;
        var bareFraming = (double)(b.Bytes - b.Carried) / b.Events;
        Figures.Add(new Figure(label, "framing per event", "bytes", framing, bareFraming, "—", null,
            compactTokens
                ? "everything but the text: SignalR invocation, event fields, WebSocket header; the reader asked for tokens=compact: deltas as t(roomNumber, seq, text), the room numbered once by rn"
                : "everything but the text: SignalR invocation, event fields, WebSocket header"));
        var tokenFraming = (double)c.TokenFraming / c.Tokens;
        var bareTokenFraming = (double)b.TokenFraming / b.Tokens;
        Figures.Add(new Figure(label, "framing per token event", "bytes", tokenFraming, bareTokenFraming, compactTokens ? "≤ 1.5×" : "—", compactTokens ? tokenFraming <= 1.5 * bareTokenFraming : null,
            $"token messages only, each with the 2-byte header of its own WebSocket frame: chat {c.Tokens} token events, baseline {b.Tokens}"));
        Figures.Add(new Figure(label, "text carried / text", "×", (double)c.Carried / text, (double)b.Carried / text, "≤ 1.2×", (double)c.Carried / text <= 1.2,
            omitFinalText
                ? "the reader asked for finalText=omit: the final status comes without the text, which the client already has from the deltas"
                : "the contract's final status repeats the whole reply (status.text), so the chat service carries the text twice"));
    }

    /// <summary>Memory of a server process (a child, so the clients' memory is not counted) per idle connection.</summary>
    public async Task IdleMemoryAsync(string kind, int connections, Func<Uri, Task<string?>> token, string hubPath, Func<string, Task<ChildServer>> start)
    {
        await using var server = await start(kind);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var before = await http.GetFromJsonAsync<MemoryStats>(new Uri(server.Url, "bench/stats"));
        var uri = RawHubSocket.WebSocketUri(server.Url, hubPath, await token(server.Url));
        var opened = new RawHubSocket?[connections];
        using var stop = new CancellationTokenSource();
        var watch = Stopwatch.StartNew();
        string? refused = null;
        await Parallel.ForAsync(0, connections, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            // When the machine runs out of descriptors, the figure is taken over the connections that did open.
            if (Volatile.Read(ref refused) is not null)
            {
                return;
            }

            try
            {
                opened[i] = await RawHubSocket.ConnectAsync(uri, ct);
            }
            catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or HttpRequestException or IOException)
            {
                Interlocked.CompareExchange(ref refused, ex.GetBaseException().Message, null);
            }
        });
        var sockets = opened.OfType<RawHubSocket>().ToArray();
        connections = sockets.Length;
        if (refused is not null)
        {
            IdleNotes.Add($"{kind}: only {connections:N0} connections opened ({refused}); the figure is per opened connection.");
        }

        log($"  idle {kind}: {connections} connections open in {watch.Elapsed.TotalSeconds:F1} s");

        // Every socket pings now and then, as a client would, so the server's client timeout does not close any.
        var pinging = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var socket in sockets)
                {
                    await socket.PingAsync(stop.Token);
                }

                await Task.Delay(TimeSpan.FromSeconds(5), stop.Token);
            }
        });
        await Task.Delay(TimeSpan.FromSeconds(1));
        var after = await http.GetFromJsonAsync<MemoryStats>(new Uri(server.Url, "bench/stats"));
        await stop.CancelAsync();
        await pinging.ContinueWith(_ => { }, TaskScheduler.Default);
        await Parallel.ForEachAsync(sockets, async (s, _) => await s.DisposeAsync());
        IdleResults[kind] = ((after!.WorkingSet - before!.WorkingSet) / (double)connections / 1024, (after.ManagedHeap - before.ManagedHeap) / (double)connections / 1024);
        log($"  idle {kind}: {IdleResults[kind].WorkingSet:F1} KB working set, {IdleResults[kind].Heap:F1} KB managed heap per connection");
    }

    public Dictionary<string, (double WorkingSet, double Heap)> IdleResults { get; } = [];

    public List<string> IdleNotes { get; } = [];

    public void AddIdleFigures(int connections)
    {
        var c = IdleResults["chat"];
        var b = IdleResults["baseline"];
        var label = $"idle connections ({connections:N0}, WebSockets)";
        Figures.Add(new Figure(label, "working set per connection", "KB", c.WorkingSet, b.WorkingSet, "≤ 40 KB", c.WorkingSet <= 40,
            IdleNotes.Count == 0 ? null : string.Join(" ", IdleNotes)));
        Figures.Add(new Figure(label, "managed heap per connection", "KB", c.Heap, b.Heap, "—", null));
    }

    private void AddPercentiles(string label, string metric, double[] chat, double[] baseline, double? p50Target, double? p99Target, string? note = null)
    {
        Figures.Add(new Figure(label, metric + " p50", "ms", Stats.Percentile(chat, 50), Stats.Percentile(baseline, 50),
            p50Target is { } t50 ? $"≤ {t50} ms" : "—", p50Target is { } l50 ? Stats.Percentile(chat, 50) <= l50 : null, note));
        Figures.Add(new Figure(label, metric + " p99", "ms", Stats.Percentile(chat, 99), Stats.Percentile(baseline, 99),
            p99Target is { } t99 ? $"≤ {t99} ms" : "—", p99Target is { } l99 ? Stats.Percentile(chat, 99) <= l99 : null));
    }

    private async Task<List<(string Room, List<Member> Members)>> ConnectRoomsAsync(ServiceUnderTest service, int rooms, int members)
    {
        var groups = Enumerable.Range(0, rooms).Select(_ => (Room: NewRoom("fan"), Members: new List<Member>())).ToList();
        var slots = groups.SelectMany(g => Enumerable.Range(0, members).Select(i => (g.Room, g.Members, Index: i))).ToArray();
        var connected = new Member[slots.Length];
        await Parallel.ForAsync(0, slots.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var member = await service.ConnectAsync(i, NewUser());
            await service.JoinAsync(member, slots[i].Room);
            connected[i] = member;
        });
        for (var i = 0; i < slots.Length; i++)
        {
            slots[i].Members.Add(connected[i]);
        }

        return groups;
    }

    private static async Task<Recorder> RunReplyAsync(ServiceUnderTest service, List<(string Room, List<Member> Members)> groups, string request)
    {
        var tokens = int.Parse(request.Split(' ')[1]["tokens=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var recorder = new Recorder(groups.Sum(g => g.Members.Count) * (tokens + 1));
        foreach (var member in groups.SelectMany(g => g.Members))
        {
            member.Arm(recorder);
        }

        await Task.WhenAll(groups.Select(g => service.StartAsync(g.Members[0], g.Room, request)));
        await Task.WhenAll(groups.SelectMany(g => g.Members).Select(m => m.Final)).WaitAsync(ReplyTimeout);
        return recorder;
    }

    private static async Task DisposeAllAsync(IEnumerable<Member> members) =>
        await Parallel.ForEachAsync(members.ToArray(), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (m, _) => await m.DisposeAsync());

    // Short, like the names people give rooms; the id travels in every event.
    private string NewRoom(string prefix) => $"{prefix}-{Interlocked.Increment(ref _rooms)}";

    private string NewUser() => $"u{Interlocked.Increment(ref _users)}";
}
