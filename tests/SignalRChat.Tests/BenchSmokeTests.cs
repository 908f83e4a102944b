using System.Text.Json;
using SignalRChat.Bench;

namespace SignalRChat.Tests;

/// <summary>The benchmark's every scenario, tiny: it starts, drives the servers, and writes its report. No figure is judged here.</summary>
public sealed class BenchSmokeTests
{
    [Fact]
    public async Task Smoke_run_drives_every_scenario_and_writes_the_report()
    {
        var output = Path.Combine(Path.GetTempPath(), "signalrchat-bench-" + Guid.NewGuid().ToString("N"));
        var log = new List<string>();
        try
        {
            var exit = await BenchRun.RunAsync("smoke", output, line =>
            {
                lock (log)
                {
                    log.Add(line);
                }
            });

            Assert.Equal(0, exit);
            var markdown = await File.ReadAllTextAsync(Path.Combine(output, "benchmarks.md"));
            Assert.Contains("| scenario | metric | chat service | baseline | chat / baseline | target | met |", markdown);
            Assert.Contains("![chat service against the baseline](benchmarks.svg)", markdown);
            Assert.StartsWith("<svg", await File.ReadAllTextAsync(Path.Combine(output, "benchmarks.svg")));

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "benchmarks.json")));
            Assert.Equal("smoke", json.RootElement.GetProperty("mode").GetString());
            var scenarios = json.RootElement.GetProperty("figures").EnumerateArray().Select(f => f.GetProperty("scenario").GetString()!).Distinct().ToList();
            foreach (var expected in new[] { "fan-out 1×3", "fan-out 3×2", "fan-out 1×3, MessagePack", "cancel, one node", "time to first token", "upstream abort (OpenAI-wire server)",
                         "fan-out 1×4, two nodes + Redis", "cancel, two nodes + Redis", "idle connections (20, WebSockets)" })
            {
                Assert.Contains(expected, scenarios);
            }

            Assert.Contains(scenarios, s => s.StartsWith("bytes per reply (", StringComparison.Ordinal));
            Assert.Contains(scenarios, s => s.StartsWith("bytes per reply, MessagePack (", StringComparison.Ordinal));
            Assert.Contains(scenarios, s => s.StartsWith("bytes per reply, finalText=omit (", StringComparison.Ordinal));
            Assert.Contains(scenarios, s => s.StartsWith("bytes per reply, MessagePack, finalText=omit (", StringComparison.Ordinal));
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
