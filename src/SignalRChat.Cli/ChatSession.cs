using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Client;
using SignalRChat.Contracts;
using Spectre.Console;

namespace SignalRChat.Cli;

/// <summary>One run of the terminal client: sign in, join, then either one message (<c>--message</c>) or a conversation.</summary>
internal sealed class ChatSession(CliOptions options, IAnsiConsole console)
{
    private const int Completed = 0;
    private const int Failed = 1;
    private const int Stopped = 2;

    /// <summary>Ctrl+C with nothing to stop: 128 + SIGINT, as shells report a program ended by Ctrl+C.</summary>
    private const int Interrupted = 130;

    private readonly Lock _ctrlC = new();
    private RoomPrinter? _printer;
    private ChatClient? _client;
    private bool _stopping;

    public async Task<int> RunAsync()
    {
        var name = options.Name;
        if (string.IsNullOrWhiteSpace(name))
        {
            if (Console.IsInputRedirected)
            {
                await Console.Error.WriteLineAsync("signalrchat: --name is needed when the input is not a terminal");
                return 64;
            }

            name = console.Ask<string>("Your [bold]name[/]:");
        }

        Console.CancelKeyPress += OnCancelKeyPress;
        try
        {
            // Replies are printed from their deltas, so the final status need not repeat the text, nor each delta its reply's id.
            await using var client = await ChatClient.ConnectAsGuestAsync(options.Server, name, omitFinalText: true, compactTokens: true);
            _client = client;
            return options.Message is { } message
                ? await AskOnceAsync(client, message)
                : await ConverseAsync(client, client.Session?.UserId ?? string.Empty);
        }
        catch (HttpRequestException ex)
        {
            await Console.Error.WriteLineAsync($"signalrchat: could not reach {options.Server}: {ex.Message}");
            return Failed;
        }
        catch (HubException ex)
        {
            await Console.Error.WriteLineAsync($"signalrchat: {Reason(ex)}");
            return Failed;
        }
        finally
        {
            Console.CancelKeyPress -= OnCancelKeyPress;
        }
    }

    // Non-interactive: the reply goes to stdout as it streams, tool progress to stderr.
    private async Task<int> AskOnceAsync(ChatClient client, string message)
    {
        await client.JoinRoomAsync(options.Room);
        client.ToolProgressReceived += progress =>
            Console.Error.WriteLine($"[{progress.Tool}: {RoomPrinter.Describe(progress)}]");
        var reply = await client.AskAsync(options.Room, message);
        _printer = RoomPrinter.ForGeneration(reply.GenerationId);
        await Console.Error.WriteLineAsync("(replying; Ctrl+C stops it for everyone)");
        await foreach (var token in reply.Tokens)
        {
            Console.Out.Write(TerminalText.Visible(token));
        }

        Console.Out.WriteLine();
        var final = await reply.Completion;
        switch (final.State)
        {
            case GenerationStates.Completed:
                return Completed;
            case GenerationStates.Cancelled:
                await Console.Error.WriteLineAsync($"({RoomPrinter.Stopped(final.CancelledBy, final.Reason)})");
                return Stopped;
            default:
                await Console.Error.WriteLineAsync($"(failed: {TerminalText.Visible(final.Error ?? "unknown error")})");
                return Failed;
        }
    }

    private async Task<int> ConverseAsync(ChatClient client, string userId)
    {
        var printer = new RoomPrinter(console, userId, ansi: console.Profile.Capabilities.Ansi && !Console.IsOutputRedirected);
        _printer = printer;
        client.EventReceived += printer.Handle;
        client.TypingReceived += printer.Typing;
        client.StateChanged += state => printer.Notice(state switch
        {
            HubConnectionState.Connected => "connected",
            HubConnectionState.Reconnecting => "reconnecting…",
            _ => "offline",
        });
        client.RoomReset += snapshot => printer.Show(snapshot, "caught up: joined the room afresh");

        var room = options.Room;
        printer.Show(await client.JoinRoomAsync(room), $"joined [bold]{Markup.Escape(room)}[/] as [bold]{Markup.Escape(client.Session?.Name ?? string.Empty)}[/]. Enter sends, Ctrl+C stops a reply, /quit leaves.");
        // While the person types, the room hears it at most every 2.5 s (the server lets one through per 2 s).
        var input = new TerminalLineReader(TerminalLineReader.Throttled(TimeSpan.FromSeconds(2.5),
            () => _ = client.TypingAsync(room).ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted)));
        while (await input.ReadLineAsync() is { } line)
        {
            var text = line.Trim();
            if (text.Length == 0)
            {
                continue;
            }

            try
            {
                if (text is "/quit" or "/exit")
                {
                    break;
                }

                if (text.StartsWith("/approve ", StringComparison.Ordinal) || text.StartsWith("/deny ", StringComparison.Ordinal))
                {
                    var approve = text.StartsWith("/approve ", StringComparison.Ordinal);
                    var decided = await client.DecideToolCallAsync(text[(text.IndexOf(' ') + 1)..].Trim(), approve);
                    printer.Notice(decided ? (approve ? "approved" : "denied") : "already decided or expired");
                    continue;
                }

                if (text.StartsWith("/room ", StringComparison.Ordinal))
                {
                    var next = text["/room ".Length..].Trim();
                    var snapshot = await client.JoinRoomAsync(next);
                    await client.LeaveRoomAsync(room);
                    room = next;
                    printer.Show(snapshot, $"joined [bold]{Markup.Escape(room)}[/]");
                    continue;
                }

                var sent = await client.SendMessageAsync(room, line);
                if (sent.GenerationId is { } generationId)
                {
                    printer.Expect(generationId);
                }
            }
            catch (HubException ex)
            {
                printer.Notice($"[red]{Markup.Escape(Reason(ex))}[/]");
            }
        }

        // Input ended (e.g. piped): let the replies that run finish first.
        await printer.WhenIdleAsync();
        return Completed;
    }

    /// <summary>The server's sentence without SignalR's wrapping.</summary>
    internal static string Reason(Exception ex)
    {
        const string marker = "HubException: ";
        var at = ex.Message.IndexOf(marker, StringComparison.Ordinal);
        return at >= 0 ? ex.Message[(at + marker.Length)..] : ex.Message;
    }

    // The first Ctrl+C during a reply stops it for everyone; otherwise (or a second time) the process exits.
    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        lock (_ctrlC)
        {
            var running = _printer?.RunningGeneration;
            if (running is null || _stopping || _client is null)
            {
                // Nothing to stop, or Ctrl+C a second time: the process ends, as a terminal program does (left to the
                // runtime, a handler that does not cancel leaves the process running).
                e.Cancel = true;
                Environment.Exit(Interrupted);
                return;
            }

            e.Cancel = true;
            _stopping = true;
            _printer?.Notice("stopping the reply… (Ctrl+C again exits)");
            _ = StopAsync(_client, running);
        }
    }

    private async Task StopAsync(ChatClient client, string generationId)
    {
        try
        {
            await client.CancelGenerationAsync(generationId);
        }
        catch (Exception ex) when (ex is HubException or InvalidOperationException)
        {
            _printer?.Notice($"[red]could not stop: {Markup.Escape(ex.Message)}[/]");
        }
        finally
        {
            lock (_ctrlC)
            {
                _stopping = false;
            }
        }
    }
}
