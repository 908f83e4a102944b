using System.Diagnostics;
using System.Runtime.InteropServices;
using SignalRChat.Bench;

// dotnet run -c Release --project bench/SignalRChat.Bench [-- --quick | --smoke] [--out DIR]
if (args.Length >= 2 && args[0] == "--serve")
{
    return await ChildServer.ServeAsync(args[1]);
}

var settings = args.Contains("--smoke") ? BenchSettings.Smoke : args.Contains("--quick") ? BenchSettings.Quick : BenchSettings.Full;
var outIndex = Array.IndexOf(args, "--out");
var output = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(Report.FindRoot(), "docs");
return await BenchRun.RunAsync(settings, output, Console.WriteLine);

namespace SignalRChat.Bench
{
    /// <summary>Runs every scenario against the chat service and the baseline, then writes the report.</summary>
    public static class BenchRun
    {
        public static Task<int> RunAsync(string mode, string output, Action<string> log) =>
            RunAsync(mode switch { "smoke" => BenchSettings.Smoke, "quick" => BenchSettings.Quick, _ => BenchSettings.Full }, output, log);

        internal static async Task<int> RunAsync(BenchSettings settings, string output, Action<string> log)
        {
            var watch = Stopwatch.StartNew();
            var files = FileLimit.Raise(2L * settings.IdleConnections + 8192);
            var idle = (int)Math.Min(settings.IdleConnections, files - 2048);
            var notes = new List<string>();
            if (idle < settings.IdleConnections)
            {
                notes.Add($"The open-file limit ({files}) allowed {idle} idle connections instead of {settings.IdleConnections}.");
            }

            log($"SignalRChat benchmark, {settings.Mode} run, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}");
            var scenarios = new Scenarios(settings, log);

            await using (var chatNode = await ChatNode.StartAsync())
            await using (var baselineNode = await BaselineNode.StartAsync())
            {
                var chat = new ChatService([chatNode.Url]);
                var baseline = new BaselineService([baselineNode.Url]);
                var shaped = new BaselineService([baselineNode.Url], "baseline, chat-shaped tokens", shaped: true);
                log("fan-out, one node");
                foreach (var (rooms, members) in settings.FanOut)
                {
                    await scenarios.FanOutAsync(chat, baseline, rooms, members, $"fan-out {rooms}×{members}", rooms == 1 && members == 100 ? 5 : null, shaped);
                }

                log("cancel, one node");
                await scenarios.CancelAsync(chat, baseline, "cancel, one node", 15);
                log("time to first token");
                await scenarios.TimeToFirstTokenAsync(chat, baseline, 2);
                log("bytes on the wire");
                await scenarios.BytesAsync(chat, baseline);
            }

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

            log($"idle connections ({idle})");
            await scenarios.IdleMemoryAsync("baseline", idle, _ => Task.FromResult<string?>(null), BaselineNode.HubPath, ChildServer.StartAsync);
            await scenarios.IdleMemoryAsync("chat", idle, url => new ChatService([url]).TokenAsync(url, "idle"), SignalRChat.Contracts.ChatProtocol.HubPath, ChildServer.StartAsync);
            scenarios.AddIdleFigures(idle);

            notes.Add("JSON vs MessagePack: the service offers only the JSON hub protocol (no `AddMessagePackProtocol` on this branch), so every figure is JSON.");
            var report = new Report(settings, scenarios.Figures, notes, watch.Elapsed);
            report.Write(output);
            log($"done in {watch.Elapsed.TotalSeconds:F0} s; report in {output}");
            return 0;
        }
    }
}
