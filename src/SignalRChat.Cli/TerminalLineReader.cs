using System.Diagnostics;
using System.Text;

namespace SignalRChat.Cli;

/// <summary>
/// Reads what the person types. At a terminal it reads key by key (a line read whole is only seen at Enter, too late to
/// say that someone types) and calls <c>typed</c> for each character; keys echo, Backspace erases, Ctrl+D on an empty
/// line ends the input. Piped input is read line by line and never counts as typing.
/// </summary>
internal sealed class TerminalLineReader(Action typed)
{
    public Task<string?> ReadLineAsync() => Console.IsInputRedirected ? Console.In.ReadLineAsync() : Task.Run(ReadKeys);

    /// <summary>Calls <paramref name="send"/> at most once per <paramref name="interval"/>; the calls in between are dropped.</summary>
    public static Action Throttled(TimeSpan interval, Action send)
    {
        long? last = null;
        return () =>
        {
            if (last is null || Stopwatch.GetElapsedTime(last.Value) >= interval)
            {
                last = Stopwatch.GetTimestamp();
                send();
            }
        };
    }

    private string? ReadKeys()
    {
        var line = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter || key.KeyChar is '\r' or '\n')
            {
                Console.WriteLine();
                return line.ToString();
            }

            if (key.KeyChar == '\u0004' && line.Length == 0)
            {
                return null;
            }

            if (key.Key == ConsoleKey.Backspace || key.KeyChar is '\b' or '\u007f')
            {
                if (line.Length > 0)
                {
                    line.Length--;
                    Console.Write("\b \b");
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                line.Append(key.KeyChar);
                Console.Write(key.KeyChar);
                typed();
            }
        }
    }
}
