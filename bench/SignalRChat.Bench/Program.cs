using System.Diagnostics;
using System.Runtime.InteropServices;
using SignalRChat.Bench;

// dotnet run -c Release --project bench/SignalRChat.Bench [-- --quick | --smoke] [--out DIR]
// dotnet run -c Release --project bench/SignalRChat.Bench -- --lifetime [--cycles N]: room churn and resume under load only, printed
// dotnet run -c Release --project bench/SignalRChat.Bench -- --records: the record in SQLite and PostgreSQL against memory, printed
// dotnet run -c Release --project bench/SignalRChat.Bench -- --scaling [--rooms 10,100,300,1000] [--window 0,00:00:00.016]: cost by load, printed and plotted
//   [--nodes 2] [--side chat|baseline] [--profile DIR [--perf]]: one node count and side only, with dotnet-counters, dotnet-trace (and perf) on every process
// dotnet run -c Release --project bench/SignalRChat.Bench -- --alloc [--tokens N] [--types]: bytes allocated per delta, service against the joining bare hub, printed
// dotnet run -c Release --project bench/SignalRChat.Bench -- --reply-cost [--members 10,100] [--replies 5] [--window 0,00:00:00.016,00:00:00.033,00:00:00.050] [--smoke]: server CPU per reply against the AIStreaming sample's way, printed
if (args.Length >= 2 && args[0] == "--serve")
{
    return await ChildServer.ServeAsync(args[1], args.Skip(2));
}

if (args.Contains("--scaling"))
{
    return await ScalingRun.RunAsync(args, Console.WriteLine);
}

if (args.Contains("--reply-cost"))
{
    return await ReplyCostRun.RunAsync(args, Console.WriteLine);
}

if (args.Contains("--records"))
{
    return await RecordRun.RunAsync(args.Contains("--smoke") ? BenchSettings.Smoke : BenchSettings.Full, Console.WriteLine);
}

if (args.Contains("--alloc"))
{
    return await AllocRun.RunAsync(args, Console.WriteLine);
}

if (args.Contains("--lifetime"))
{
    return await LifetimeRun.RunAsync(args, Console.WriteLine);
}

var settings = args.Contains("--smoke") ? BenchSettings.Smoke : args.Contains("--quick") ? BenchSettings.Quick : BenchSettings.Full;
var outIndex = Array.IndexOf(args, "--out");
var output = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(Report.FindRoot(), "docs");
var onlyIndex = Array.IndexOf(args, "--only");
var only = onlyIndex >= 0 && onlyIndex + 1 < args.Length ? args[onlyIndex + 1] : null;
return await BenchRun.RunAsync(settings, output, Console.WriteLine, only);

namespace SignalRChat.Bench
{
    /// <summary>Runs every scenario against the chat service and the baseline, then writes the report.</summary>
    public static class BenchRun
    {
        public static Task<int> RunAsync(string mode, string output, Action<string> log) =>
            RunAsync(mode switch { "smoke" => BenchSettings.Smoke, "quick" => BenchSettings.Quick, _ => BenchSettings.Full }, output, log);

        /// <param name="only">When set, only the scenarios whose name contains it run (for profiling one of them).</param>
        internal static async Task<int> RunAsync(BenchSettings settings, string output, Action<string> log, string? only = null)
        {
            bool Run(string scenario) => only is null || scenario.Contains(only, StringComparison.Ordinal);
            var watch = Stopwatch.StartNew();
            var files = FileLimit.Raise(2L * settings.IdleConnections + 8192);

            // The server process needs one descriptor per connection plus its own, and the machine's table is shared.
            var idle = (int)Math.Min(settings.IdleConnections, files - 2048);
            var notes = new List<string>();
            if (idle < settings.IdleConnections)
            {
                notes.Add($"The machine's open-file limit ({files}, which this process could not raise) allowed {idle:N0} idle connections instead of {settings.IdleConnections:N0}.");
            }

            log($"SignalRChat benchmark, {settings.Mode} run, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}");
            var scenarios = new Scenarios(settings, log);

            await using (var chatNode = await ChatNode.StartAsync())
            await using (var baselineNode = await BaselineNode.StartAsync())
            {
                var chat = new ChatService([chatNode.Url]);
                var baseline = new BaselineService([baselineNode.Url]);
                var shaped = new BaselineService([baselineNode.Url], "baseline, chat-shaped tokens", shaped: true);
                var joined = new BaselineService([baselineNode.Url], "baseline, joining waiting tokens", joined: true);
                log("fan-out, one node");
                foreach (var (rooms, members) in settings.FanOut.Where(f => Run($"fan-out {f.Rooms}×{f.Members}")))
                {
                    await scenarios.FanOutAsync(chat, baseline, rooms, members, $"fan-out {rooms}×{members}", rooms == 1 && members == 100 ? 5 : null, shaped, joined);
                }

                // The same nodes, both sides speaking MessagePack: the rows to read beside the JSON ones.
                var packedChat = new ChatService([chatNode.Url], protocol: WireProtocol.MessagePack);
                var packedBaseline = new BaselineService([baselineNode.Url], protocol: WireProtocol.MessagePack);
                var packedMembers = settings.MessagePackMembers;
                if (Run($"fan-out 1×{packedMembers}, MessagePack"))
                {
                    var packedShaped = new BaselineService([baselineNode.Url], "baseline, chat-shaped tokens", shaped: true, protocol: WireProtocol.MessagePack);
                    await scenarios.FanOutAsync(packedChat, packedBaseline, 1, packedMembers, $"fan-out 1×{packedMembers}, MessagePack", packedMembers == 100 ? 5 : null, packedShaped);
                }

                if (Run("cancel, one node"))
                {
                    log("cancel, one node");
                    await scenarios.CancelAsync(chat, baseline, "cancel, one node", 15);
                }

                if (Run("time to first token"))
                {
                    log("time to first token");
                    await scenarios.TimeToFirstTokenAsync(chat, baseline, 2);
                }

                if (Run("bytes per reply ("))
                {
                    log("bytes on the wire");
                    await scenarios.BytesAsync(chat, baseline);
                }

                if (Run("bytes per reply, MessagePack"))
                {
                    log("bytes on the wire, MessagePack");
                    await scenarios.BytesAsync(packedChat, packedBaseline);
                }

                if (Run("bytes per reply, finalText=omit"))
                {
                    log("bytes on the wire, finalText=omit");
                    await scenarios.BytesAsync(chat, baseline, omitFinalText: true);
                    await scenarios.BytesAsync(packedChat, packedBaseline, omitFinalText: true);
                }

                // What the repository's clients ask for: compact deltas, alone and with finalText=omit.
                if (Run("bytes per reply, tokens=compact"))
                {
                    log("bytes on the wire, tokens=compact");
                    await scenarios.BytesAsync(chat, baseline, compactTokens: true);
                    await scenarios.BytesAsync(packedChat, packedBaseline, compactTokens: true);
                }

                if (Run("bytes per reply, finalText=omit, tokens=compact"))
                {
                    log("bytes on the wire, finalText=omit, tokens=compact");
                    await scenarios.BytesAsync(chat, baseline, omitFinalText: true, compactTokens: true);
                    await scenarios.BytesAsync(packedChat, packedBaseline, omitFinalText: true, compactTokens: true);
                }
            }

            if (Run("upstream abort"))
            {
                log("upstream abort");
                await using (var wire = await WireServer.StartAsync())
                await using (var openAINode = await ChatNode.StartAsync(new Dictionary<string, string?>
                {
                    ["Chat:Model:Provider"] = "OpenAI",
                    ["Chat:OpenAI:Endpoint"] = new Uri(wire.Url, "v1").ToString(),
                    ["Chat:OpenAI:Model"] = "wire",
                    ["Chat:OpenAI:ApiKey"] = "bench-key",
                }))
                {
                    await scenarios.UpstreamAbortAsync(wire, new ChatService([openAINode.Url]), 20);
                }
            }

            if (Run("two nodes"))
            {
                log("two nodes with Redis");
                await using (var redis = await RedisServer.StartAsync())
                {
                    var nodeSettings = new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString };
                    await using var chatA = await ChatNode.StartAsync(nodeSettings);
                    await using var chatB = await ChatNode.StartAsync(nodeSettings);
                    await using var baselineA = await BaselineNode.StartAsync(redis.ConnectionString);
                    await using var baselineB = await BaselineNode.StartAsync(redis.ConnectionString);
                    var chat = new ChatService([chatA.Url, chatB.Url]);
                    var baseline = new BaselineService([baselineA.Url, baselineB.Url]);
                    var members = settings.TwoNodeMembers;
                    await scenarios.FanOutAsync(chat, baseline, 1, members, $"fan-out 1×{members}, two nodes + Redis", members == 100 ? 5 : null);
                    await scenarios.CancelAsync(chat, baseline, "cancel, two nodes + Redis", 30);
                }
            }

            if (Run("Redis Cluster"))
            {
                log("two nodes with a three-master Redis Cluster");
                await using (var cluster = await RedisServer.StartClusterAsync())
                {
                    var nodeSettings = new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = cluster.ConnectionString };
                    await using var chatA = await ChatNode.StartAsync(nodeSettings);
                    await using var chatB = await ChatNode.StartAsync(nodeSettings);
                    await using var baselineA = await BaselineNode.StartAsync(cluster.ConnectionString);
                    await using var baselineB = await BaselineNode.StartAsync(cluster.ConnectionString);
                    var chat = new ChatService([chatA.Url, chatB.Url]);
                    var baseline = new BaselineService([baselineA.Url, baselineB.Url]);
                    var members = settings.TwoNodeMembers;
                    await scenarios.FanOutAsync(chat, baseline, 1, members, $"fan-out 1×{members}, two nodes + Redis Cluster", members == 100 ? 5 : null);
                    await scenarios.CancelAsync(chat, baseline, "cancel, two nodes + Redis Cluster", 30);
                }
            }

            if (Run("idle"))
            {
                log($"idle connections ({idle})");
                await scenarios.IdleMemoryAsync("baseline", idle, _ => Task.FromResult<string?>(null), BaselineNode.HubPath, ChildServer.StartAsync);
                await scenarios.IdleMemoryAsync("chat", idle, url => new ChatService([url]).TokenAsync(url, "idle"), SignalRChat.Contracts.ChatProtocol.HubPath, ChildServer.StartAsync);
                scenarios.AddIdleFigures(idle);
            }

            notes.Add("JSON vs MessagePack: the service and the baseline both offer the two hub protocols. Every row is JSON except those marked MessagePack, " +
                      "where both sides' clients speak MessagePack (the contract's records as maps with the same camelCase fields as in JSON).");
            var report = new Report(settings, scenarios.Figures, notes, watch.Elapsed);
            report.Write(output);
            log($"done in {watch.Elapsed.TotalSeconds:F0} s; report in {output}");
            return 0;
        }
    }
}
