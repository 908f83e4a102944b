using System.Globalization;

namespace SignalRChat.Soak;

/// <summary>One chat node under test: its URL and, for memory readings, its process id.</summary>
internal sealed record Node(Uri Url, int? Pid);

/// <summary>Command-line settings of a soak run.</summary>
internal sealed class SoakOptions
{
    public const string Usage = """
        usage: SignalRChat.Soak --node URL[@PID] [--node URL[@PID] ...] [options]
          --duration 10m      how long rooms keep generating (s, m or h; default 10m)
          --rooms 8           rooms, each with its own members and reply loop
          --members 3         members per room, spread over the nodes
          --cancel 0.3        share of replies stopped mid-stream by a member
          --drop-every 2s     how often one member's connection is dropped (transport abort, or a restart with Resume)
          --seed N            random seed (default: time based; printed)
        Exit code: 0 when no token was lost or doubled and nothing failed, 1 otherwise, 2 for bad arguments.
        """;

    public List<Node> Nodes { get; } = [];

    public TimeSpan Duration { get; private set; } = TimeSpan.FromMinutes(10);

    public int Rooms { get; private set; } = 8;

    public int Members { get; private set; } = 3;

    public double CancelShare { get; private set; } = 0.3;

    public TimeSpan DropEvery { get; private set; } = TimeSpan.FromSeconds(2);

    public int Seed { get; private set; } = Environment.TickCount & 0x7fffffff;

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a readable message.</summary>
    public static SoakOptions Parse(string[] args)
    {
        var options = new SoakOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value");
            switch (name)
            {
                case "--node":
                    options.Nodes.Add(ParseNode(Value()));
                    break;
                case "--duration":
                    options.Duration = ParseDuration(name, Value());
                    break;
                case "--rooms":
                    options.Rooms = ParseInt(name, Value(), 1, 500);
                    break;
                case "--members":
                    options.Members = ParseInt(name, Value(), 1, 50);
                    break;
                case "--cancel":
                    options.CancelShare = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var share) && share is >= 0 and <= 1
                        ? share
                        : throw new ArgumentException("--cancel must be a number from 0 to 1");
                    break;
                case "--drop-every":
                    options.DropEvery = ParseDuration(name, Value());
                    break;
                case "--seed":
                    options.Seed = ParseInt(name, Value(), 0, int.MaxValue);
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{name}'");
            }
        }

        if (options.Nodes.Count == 0)
        {
            throw new ArgumentException("at least one --node is required");
        }

        return options;
    }

    private static Node ParseNode(string value)
    {
        var at = value.LastIndexOf('@');
        var url = at > 0 ? value[..at] : value;
        int? pid = null;
        if (at > 0)
        {
            pid = int.TryParse(value[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0
                ? p
                : throw new ArgumentException($"--node '{value}': the part after @ must be a process id");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !uri.IsLoopback)
        {
            throw new ArgumentException($"--node '{value}' must be an http:// URL on a loopback address");
        }

        return new Node(uri, pid);
    }

    internal static TimeSpan ParseDuration(string name, string value)
    {
        var unit = value.Length > 0 ? value[^1] : ' ';
        var number = char.IsDigit(unit) ? value : value[..^1];
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount <= 0)
        {
            throw new ArgumentException($"{name} '{value}' must be a positive duration such as 90s, 2m or 1h");
        }

        return unit switch
        {
            'h' => TimeSpan.FromHours(amount),
            'm' => TimeSpan.FromMinutes(amount),
            _ when char.IsDigit(unit) || unit == 's' => TimeSpan.FromSeconds(amount),
            _ => throw new ArgumentException($"{name} '{value}': the unit must be s, m or h"),
        };
    }

    private static int ParseInt(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"{name} must be a whole number from {min} to {max}");
}
