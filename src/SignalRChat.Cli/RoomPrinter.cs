using SignalRChat.Contracts;
using Spectre.Console;

namespace SignalRChat.Cli;

/// <summary>
/// Prints a room's events as a conversation: replies stream in place, a running tool shows on a
/// status line that is rewritten in place (on a terminal) until the reply's text starts.
/// </summary>
internal sealed class RoomPrinter(IAnsiConsole? console, string userId, bool ansi)
{
    private const string ClearLine = "\r\u001b[2K";

    private readonly Lock _lock = new();
    private readonly HashSet<string> _running = new(StringComparer.Ordinal);
    private string? _streaming;
    private bool _statusShown;
    private bool _lineHasText;
    private bool _prefixShown;
    private TaskCompletionSource? _idle;

    private readonly HashSet<string> _finished = new(StringComparer.Ordinal);

    /// <summary>Counts a reply this client asked for as running, unless its end was already seen.</summary>
    public void Expect(string generationId)
    {
        lock (_lock)
        {
            if (!_finished.Contains(generationId))
            {
                _running.Add(generationId);
            }
        }
    }

    /// <summary>Completes when no reply runs in the room (at once if none does).</summary>
    public Task WhenIdleAsync()
    {
        lock (_lock)
        {
            if (_running.Count == 0)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task;
        }
    }

    /// <summary>A generation not yet ended, for Ctrl+C to stop.</summary>
    public string? RunningGeneration
    {
        get
        {
            lock (_lock)
            {
                return _running.FirstOrDefault();
            }
        }
    }

    /// <summary>A printer that only knows one generation runs (the non-interactive mode prints by itself).</summary>
    public static RoomPrinter ForGeneration(string generationId)
    {
        var printer = new RoomPrinter(null, string.Empty, ansi: false);
        printer._running.Add(generationId);
        return printer;
    }

    public static string Describe(ToolProgressEvent progress) =>
        progress.Progress is { } fraction ? $"{progress.Phase} {fraction * 100:0}%" : progress.Phase;

    public void Show(RoomSnapshot snapshot, string notice)
    {
        lock (_lock)
        {
            EndLine();
            _running.Clear();
            foreach (var message in snapshot.Messages)
            {
                WriteMessage(message.AuthorName, message.Role, message.Text, message.State);
            }

            if (snapshot.ActiveGeneration is { } active)
            {
                _running.Add(active.GenerationId);
                _streaming = active.GenerationId;
                Prefix();
                Write(TerminalText.Visible(active.Text));
            }

            NoticeLocked(notice);
            NoticeLocked($"present: {Spectre.Console.Markup.Escape(TerminalText.Visible(string.Join(", ", snapshot.Members.Select(m => m.Name))))}");
            foreach (var approval in snapshot.PendingApprovals ?? [])
            {
                NoticeLocked(Pending(approval));
            }
        }
    }

    private static string Pending(ToolApprovalEvent e) =>
        $"[yellow]the assistant asks to run {Spectre.Console.Markup.Escape(TerminalText.Visible(e.Tool))} {Spectre.Console.Markup.Escape(TerminalText.Visible(e.Arguments.GetRawText()))}: " +
        $"/approve {Spectre.Console.Markup.Escape(e.ApprovalId)} or /deny {Spectre.Console.Markup.Escape(e.ApprovalId)}[/]";

    public void Notice(string markup)
    {
        lock (_lock)
        {
            NoticeLocked(markup);
        }
    }

    public void Handle(RoomEvent roomEvent)
    {
        lock (_lock)
        {
            switch (roomEvent)
            {
                case MessageEvent { Message.Role: MessageRoles.User } e when e.Message.AuthorId != userId:
                    EndLine();
                    WriteMessage(e.Message.AuthorName, e.Message.Role, e.Message.Text, e.Message.State);
                    break;
                case MessageEvent { Message.Role: MessageRoles.Assistant }:
                    EndLine();
                    break;
                case StatusEvent { IsFinal: false } e:
                    if (!_finished.Contains(e.GenerationId))
                    {
                        _running.Add(e.GenerationId);
                    }

                    if (e.State == GenerationStates.Queued)
                    {
                        NoticeLocked("queued behind the reply that runs");
                    }
                    else if (_streaming != e.GenerationId)
                    {
                        _streaming = e.GenerationId;
                        _prefixShown = false;
                    }

                    break;
                case TokenEvent e when e.GenerationId == _streaming:
                    ClearStatus();
                    Prefix();
                    Write(TerminalText.Visible(e.Text));
                    break;
                case ToolProgressEvent e when e.GenerationId == _streaming:
                    ShowStatus($"[grey]⚙ {Spectre.Console.Markup.Escape(e.Tool)}: {Spectre.Console.Markup.Escape(Describe(e))}{(e.Detail is { } d ? " " + Spectre.Console.Markup.Escape(TerminalText.Visible(d)) : string.Empty)}[/]");
                    break;
                case StatusEvent { IsFinal: true } e:
                    _running.Remove(e.GenerationId);
                    _finished.Add(e.GenerationId);
                    if (_running.Count == 0)
                    {
                        _idle?.TrySetResult();
                        _idle = null;
                    }

                    if (e.GenerationId == _streaming)
                    {
                        ClearStatus();
                        Prefix();
                        if (e.State == GenerationStates.Cancelled)
                        {
                            WriteMarkup($" [yellow]({Spectre.Console.Markup.Escape(Stopped(e.CancelledBy, e.Reason))})[/]");
                        }
                        else if (e.State == GenerationStates.Failed)
                        {
                            WriteMarkup($" [red](failed: {Spectre.Console.Markup.Escape(TerminalText.Visible(e.Error ?? "unknown error"))})[/]");
                        }

                        _streaming = null;
                        EndLine();
                    }

                    break;
                case RoomSettingsEvent e:
                    NoticeLocked($"{Spectre.Console.Markup.Escape(e.ChangedBy.Name)} set the room to: assistant {e.Settings.Assistant}, onBusy {e.Settings.OnBusy}" +
                        (e.Settings.Topic is { } topic ? $", topic \"{Spectre.Console.Markup.Escape(topic)}\"" : string.Empty));
                    break;
                case ToolApprovalEvent { State: ApprovalStates.Pending } e:
                    NoticeLocked(Pending(e));
                    break;
                case ToolApprovalEvent e:
                    NoticeLocked($"{Spectre.Console.Markup.Escape(e.Tool)}: {e.State}{(e.DecidedBy is { } by ? " by " + Spectre.Console.Markup.Escape(by.Name) : string.Empty)}");
                    break;
                case PresenceEvent e when e.UserId != userId:
                    NoticeLocked($"{Spectre.Console.Markup.Escape(e.Name)} {(e.State == "joined" ? "joined" : "left")}");
                    break;
            }
        }
    }

    /// <summary>Someone else is typing: shown on the status line until something else replaces it.</summary>
    public void Typing(TypingEvent typing)
    {
        lock (_lock)
        {
            if (typing.UserId != userId && _streaming is null)
            {
                ShowStatus($"[grey]{Spectre.Console.Markup.Escape(typing.Name)} is typing…[/]");
            }
        }
    }

    /// <summary>How a stopped reply reads: "stopped by bob", "stopped: the server shut down".</summary>
    public static string Stopped(RoomMember? by, string? reason) => (by, reason) switch
    {
        ({ } member, CancelReasons.Interrupted) => $"interrupted by {member.Name}",
        ({ } member, _) => $"stopped by {member.Name}",
        (null, CancelReasons.Shutdown) => "stopped: the server shut down",
        (null, CancelReasons.Limit) => "stopped: the reply reached its length limit",
        _ => "stopped",
    };

    private void WriteMessage(string author, string role, string text, string state)
    {
        var color = role == MessageRoles.Assistant ? "blue" : "green";
        var suffix = state switch
        {
            MessageStates.Cancelled => " [yellow](stopped)[/]",
            MessageStates.Failed => " [red](failed)[/]",
            _ => string.Empty,
        };
        WriteMarkup($"[bold {color}]{Spectre.Console.Markup.Escape(TerminalText.Visible(author))}[/]: ");
        Write(TerminalText.Visible(text));
        WriteMarkup(suffix);
        Write(Environment.NewLine);
        _lineHasText = false;
    }

    private void NoticeLocked(string markup)
    {
        var resumeLine = _lineHasText;
        if (resumeLine)
        {
            Write(Environment.NewLine);
        }

        WriteMarkup($"[grey]· {markup}[/]{Environment.NewLine}");
        _lineHasText = false;
        if (resumeLine && _streaming is not null)
        {
            WriteMarkup("[bold blue]Assistant[/] (continued): ");
            _lineHasText = true;
        }
    }

    // "Assistant: " opens a reply's line once it has something to show.
    private void Prefix()
    {
        if (_prefixShown)
        {
            return;
        }

        EndLine();
        WriteMarkup("[bold blue]Assistant[/]: ");
        _prefixShown = true;
        _lineHasText = true;
    }

    // The status line sits after "Assistant: " until text arrives; on a terminal it is rewritten in place.
    private void ShowStatus(string markup)
    {
        if (ansi)
        {
            Prefix();
            Write(ClearLine);
            WriteMarkup($"[bold blue]Assistant[/]: {markup}");
            _statusShown = true;
            _lineHasText = true;
            return;
        }

        // Without a terminal each step gets its own line, and the reply's line opens with its text.
        EndLine();
        WriteMarkup($"  {markup}{Environment.NewLine}");
        _prefixShown = false;
    }

    private void ClearStatus()
    {
        if (_statusShown)
        {
            Write(ClearLine);
            WriteMarkup("[bold blue]Assistant[/]: ");
            _statusShown = false;
        }
    }

    private void EndLine()
    {
        ClearStatus();
        if (_lineHasText)
        {
            Write(Environment.NewLine);
            _lineHasText = false;
        }
    }

    private void WriteMarkup(string markup)
    {
        if (console is null)
        {
            return;
        }

        console.Markup(markup);
    }

    private void Write(string text)
    {
        if (console is null)
        {
            return;
        }

        // Model text is written as it is: never read as markup.
        console.Write(new Text(text));
    }
}
