using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace SignalRChat.Bench;

/// <summary>Writes <c>benchmarks.md</c> (table and chart), <c>benchmarks.svg</c> and <c>benchmarks.json</c>.</summary>
internal sealed class Report(BenchSettings settings, IReadOnlyList<Figure> figures, IReadOnlyList<string> notes, TimeSpan elapsed)
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "benchmarks.json"), JsonSerializer.Serialize(new
        {
            mode = settings.Mode,
            date = DateTimeOffset.UtcNow,
            cores = Environment.ProcessorCount,
            os = RuntimeInformation.OSDescription,
            runtime = Environment.Version.ToString(),
            seconds = Math.Round(elapsed.TotalSeconds),
            settings,
            notes,
            figures = figures.Select(f => new { f.Scenario, f.Metric, f.Unit, f.Chat, f.Baseline, f.Ratio, f.Target, f.Met, f.Note }),
        }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        File.WriteAllText(Path.Combine(directory, "benchmarks.svg"), Chart());
        File.WriteAllText(Path.Combine(directory, "benchmarks.md"), Markdown());
    }

    private string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine("Measured by `bench/SignalRChat.Bench`: `dotnet run -c Release --project bench/SignalRChat.Bench` (full run) or `-- --quick`.");
        md.AppendLine("It starts the chat service and a baseline on loopback in the same process (idle-memory servers in child processes), connects real");
        md.AppendLine("SignalR clients (WebSockets), and writes this file, `benchmarks.svg` and the raw numbers in `benchmarks.json`.");
        md.AppendLine();
        md.AppendLine($"This run: **{settings.Mode}**, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, " +
                      $".NET {Environment.Version}, {elapsed.TotalSeconds:F0} s. Servers and clients share the {Environment.ProcessorCount} cores, so every figure includes the clients' own work.");
        md.AppendLine();
        md.AppendLine("**Baseline**: a bare SignalR hub that streams the same model output to the same group with `Clients.Group(...).SendAsync`, one awaited send per token:");
        md.AppendLine("no rooms, seq, history, queue or generation bookkeeping (with Redis: the same backplane, and a Stop passed over one pub/sub channel).");
        md.AppendLine("**Model**: a bench `IChatClient` (behind the service's tool-calling layer) whose tokens carry the process clock at the moment of the yield;");
        md.AppendLine("a client's receipt time minus that stamp is the token's latency. Delivered tokens/s: a reply yielded as fast as the model can, counted at every member,");
        md.AppendLine($"the median of {settings.BurstRuns} such replies (one lasts a few milliseconds, less than one collection of the process's garbage collector can pause it);");
        md.AppendLine("the service's members only record what they receive, as the baseline's do (the seq check of the scaling run is not done here);");
        md.AppendLine("before either is measured, each side runs unmeasured replies on the same connections until the JIT has nearly stopped compiling (at most 10 s);");
        md.AppendLine($"latency: the same reply at a model's pace ({settings.PacedTokens} tokens, one per {settings.PaceMs} ms).");
        md.AppendLine();
        md.AppendLine("![chat service against the baseline](benchmarks.svg)");
        md.AppendLine();
        md.AppendLine("| scenario | metric | chat service | baseline | chat / baseline | target | met |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | --- | :---: |");
        foreach (var f in figures)
        {
            md.AppendLine(Invariant, $"| {f.Scenario} | {f.Metric} | {Format(f.Chat, f.Unit)} | {(f.Baseline is { } b ? Format(b, f.Unit) : "—")} | " +
                                     $"{(f.Ratio is { } r ? r.ToString("F2", Invariant) + "×" : "—")} | {f.Target} | {(f.Met is { } met ? met ? "yes" : "**no**" : "")} |");
        }

        var footnotes = figures.Where(f => f.Note is not null).GroupBy(f => f.Note!)
            .Select(g => g.Count() == 1 ? $"{g.First().Scenario}, {g.First().Metric}: {g.Key}" : $"{g.First().Metric} ({string.Join(", ", g.Select(f => f.Scenario))}): {g.Key}")
            .Concat(notes).ToList();
        if (footnotes.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Notes:");
            md.AppendLine();
            foreach (var note in footnotes)
            {
                md.AppendLine("- " + note);
            }
        }

        var changes = Path.Combine(AppContext.BaseDirectory, "findings.md");
        if (File.Exists(changes))
        {
            md.AppendLine();
            md.Append(File.ReadAllText(changes));
        }

        return md.ToString();
    }

    private static string Format(double value, string unit) =>
        double.IsNaN(value) ? "—" : unit switch
        {
            "tokens/s" => value.ToString("N0", Invariant) + " tokens/s",
            "ms" => value.ToString("F2", Invariant) + " ms",
            "KB" => value.ToString("F1", Invariant) + " KB",
            "bytes" => value.ToString("F0", Invariant) + " bytes",
            "×" => value.ToString("F2", Invariant) + "×",
            _ => value.ToString("G4", Invariant) + " " + unit,
        };

    // Panels of paired bars (chat service, baseline), each scaled to its own largest value.
    private string Chart()
    {
        var panels = new List<(string Title, List<(string Label, double Chat, double Baseline)> Rows)>
        {
            ("Delivered tokens/s (higher is better)", Pick(f => f.Metric == "delivered tokens/s", f => f.Scenario)),
            ("Token latency p99, ms (lower is better)", Pick(f => f.Metric == "token latency p99", f => f.Scenario)),
            ("Latency p50 / p99, ms (lower is better)", Pick(f => f.Unit == "ms" && !f.Metric.StartsWith("token latency", StringComparison.Ordinal), f => $"{Short(f.Scenario)} {f.Metric[^3..]}")),
            ("Memory and bytes (lower is better)", Pick(f => f.Unit is "KB" or "×" or "bytes",
                f => f.Scenario.Contains("MessagePack", StringComparison.Ordinal) ? $"{f.Metric}, MessagePack ({f.Unit})" : $"{f.Metric} ({f.Unit})")),
        };
        const int width = 900, labelWidth = 380, barArea = 420, barHeight = 11, rowGap = 8, titleHeight = 34;
        var svg = new StringBuilder();
        var y = 40;
        foreach (var (title, rows) in panels)
        {
            svg.AppendLine(Invariant, $"""<text x="10" y="{y + 18}" font-size="15" font-weight="bold">{Escape(title)}</text>""");
            y += titleHeight;
            var max = rows.Count == 0 ? 1 : rows.Max(r => Math.Max(r.Chat, double.IsNaN(r.Baseline) ? 0 : r.Baseline));
            max = max <= 0 || double.IsNaN(max) ? 1 : max;
            foreach (var (label, chat, baseline) in rows)
            {
                svg.AppendLine(Invariant, $"""<text x="{labelWidth - 8}" y="{y + barHeight + 4}" font-size="12" text-anchor="end">{Escape(label)}</text>""");
                Bar(svg, labelWidth, y, chat / max * barArea, barHeight, "#2b6cb0", chat);
                Bar(svg, labelWidth, y + barHeight + 1, (double.IsNaN(baseline) ? 0 : baseline) / max * barArea, barHeight, "#a0aec0", baseline);
                y += 2 * barHeight + 1 + rowGap;
            }

            y += 14;
        }

        var head = new StringBuilder();
        head.AppendLine(Invariant, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 10}" viewBox="0 0 {width} {y + 10}" font-family="DejaVu Sans, Arial, sans-serif">""");
        head.AppendLine(Invariant, $"""<rect width="{width}" height="{y + 10}" fill="white"/>""");
        head.AppendLine(Invariant, $"""<text x="10" y="22" font-size="17" font-weight="bold">SignalRChat against a bare SignalR hub ({settings.Mode} run, {Environment.ProcessorCount} cores)</text>""");
        head.AppendLine(Invariant, $"""<rect x="{width - 250}" y="10" width="12" height="12" fill="#2b6cb0"/><text x="{width - 232}" y="21" font-size="12">chat service</text>""");
        head.AppendLine(Invariant, $"""<rect x="{width - 140}" y="10" width="12" height="12" fill="#a0aec0"/><text x="{width - 122}" y="21" font-size="12">baseline</text>""");
        return head.ToString() + svg + "</svg>\n";
    }

    private List<(string Label, double Chat, double Baseline)> Pick(Func<Figure, bool> which, Func<Figure, string> label) =>
        figures.Where(which).Select(f => (label(f), f.Chat, f.Baseline ?? double.NaN)).ToList();

    private static string Short(string scenario) => scenario switch
    {
        "time to first token" => "added time to first token",
        "upstream abort (OpenAI-wire server)" => "stop → upstream closed",
        _ => scenario.Replace(" + Redis", string.Empty, StringComparison.Ordinal),
    };

    private static void Bar(StringBuilder svg, int x, int y, double length, int height, string color, double value)
    {
        var text = double.IsNaN(value) ? "—" : value >= 1000 ? value.ToString("N0", Invariant) : value.ToString("G3", Invariant);
        svg.AppendLine(Invariant, $"""<rect x="{x}" y="{y}" width="{Math.Max(0.5, length):F1}" height="{height}" fill="{color}"/>""");
        svg.AppendLine(Invariant, $"""<text x="{x + Math.Max(0.5, length) + 4:F1}" y="{y + height - 2}" font-size="10">{text}</text>""");
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    public static string FindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "SignalRChat.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
