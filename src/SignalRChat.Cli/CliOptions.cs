namespace SignalRChat.Cli;

/// <summary>The command line: <c>signalrchat [--server URL] [--name NAME] [--room ROOM] [--message TEXT]</c>.</summary>
internal sealed record CliOptions(Uri Server, string? Name, string Room, string? Message, bool Help)
{
    public const string Usage = """
        signalrchat: chat in a SignalRChat room from the terminal.

          signalrchat [--server URL] [--name NAME] [--room ROOM] [--message TEXT]

          --server URL     the chat server (default: $SIGNALRCHAT_SERVER or http://localhost:5000)
          --name NAME      your guest name (asked for when missing)
          --room ROOM      the room to join (default: lobby)
          --message TEXT   send TEXT, print the reply, and exit (0 completed, 1 failed, 2 stopped)

        In a room: type a message and press Enter. /room NAME switches rooms, /quit leaves.
        Ctrl+C while a reply streams stops it for everyone; a second Ctrl+C exits.
        """;

    /// <summary>Reads the arguments; a wrong one gives an error that names it.</summary>
    public static CliOptions Parse(IReadOnlyList<string> args, string? serverFromEnvironment)
    {
        var server = serverFromEnvironment is { Length: > 0 } ? serverFromEnvironment : "http://localhost:5000";
        string? name = null;
        string? message = null;
        var room = "lobby";
        var help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help":
                    help = true;
                    break;
                case "--server":
                    server = Value(args, ref i, arg);
                    break;
                case "--name":
                    name = Value(args, ref i, arg);
                    break;
                case "--room":
                    room = Value(args, ref i, arg);
                    break;
                case "--message":
                    message = Value(args, ref i, arg);
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{arg}' (see --help)");
            }
        }

        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"--server must be an http:// or https:// URL, not '{server}'");
        }

        if (message is { Length: 0 })
        {
            throw new ArgumentException("--message needs some text");
        }

        return new CliOptions(uri, name, room, message, help);
    }

    private static string Value(IReadOnlyList<string> args, ref int i, string name) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{name} needs a value");
}
