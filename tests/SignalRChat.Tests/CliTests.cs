using System.Diagnostics;
using EventLog = SignalRChat.Tests.Infrastructure.EventLog;
using System.Text;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>The terminal client, run as its own process against a real server, as a user would run it.</summary>
public sealed class CliTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_message_from_the_command_line_prints_the_reply_with_tool_progress()
    {
        await using var server = await ChatServer.StartAsync();
        using var cli = CliProcess.Start("--server", server.Url.ToString(), "--name", "terminal", "--room", "cli-room", "--message", "calculate 2+2");
        var exitCode = await cli.WaitForExitAsync(Timeout);

        Assert.Equal(0, exitCode);
        Assert.Contains("the calculator says 2+2 = 4.", cli.Stdout);
        Assert.Contains("[calculator: started]", cli.Stderr);
        Assert.Contains("[calculator: completed 100%]", cli.Stderr);
    }

    [Fact]
    public async Task Escape_sequences_in_other_peoples_text_are_printed_visibly_not_obeyed()
    {
        await using var server = await ChatServer.StartAsync();
        var mallory = await server.ConnectAsync("mallory");
        await mallory.JoinRoomAsync("cli-escape");
        // C0 controls are refused by the server; C1 CSI (U+009B) and bidi overrides are text a terminal would obey.
        await mallory.SendMessageAsync("cli-escape", "clear \u009b2J and \u202Eflipped\u007f");

        using var cli = CliProcess.Start(["--server", server.Url.ToString(), "--name", "reader", "--room", "cli-escape"], input: "hello\n");
        var exitCode = await cli.WaitForExitAsync(Timeout);

        Assert.Equal(0, exitCode);
        Assert.Contains("clear <U+009B>2J and <U+202E>flipped\u2421", cli.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain('\u009b', cli.Stdout);
        Assert.DoesNotContain('\u202e', cli.Stdout);
    }

    [Fact]
    public async Task Lines_read_from_input_are_sent_and_the_replies_printed_before_it_exits()
    {
        await using var server = await ChatServer.StartAsync();
        var watcher = await server.ConnectAsync("watcher");
        var log = new EventLog(watcher);
        await watcher.JoinRoomAsync("cli-chat");

        using var cli = CliProcess.Start(["--server", server.Url.ToString(), "--name", "typist", "--room", "cli-chat"], input: "hello from the terminal\n");
        var exitCode = await cli.WaitForExitAsync(Timeout);

        Assert.Equal(0, exitCode);
        var final = (StatusEvent)await log.WaitForAsync(e => e is StatusEvent { IsFinal: true });
        Assert.Contains("typist", cli.Stdout);
        Assert.Contains($"Assistant: {final.Text}", cli.Stdout);
        Assert.Contains(log.Events.OfType<MessageEvent>(), e => e.Message.Text == "hello from the terminal" && e.Message.AuthorName == "typist");
    }

    [Fact]
    public async Task Ctrl_C_during_a_reply_stops_it_for_everyone()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Offline:TokenDelayMs"] = "20",
            ["Chat:Offline:ReplyTokens"] = "3000",
        });
        var watcher = await server.ConnectAsync("watcher");
        var log = new EventLog(watcher);
        await watcher.JoinRoomAsync("cli-stop");

        using var cli = CliProcess.Start("--server", server.Url.ToString(), "--name", "stopper", "--room", "cli-stop", "--message", "a long one please");
        // The reply runs, and the terminal follows it: Ctrl+C before it knows its reply would only end the process.
        await log.WaitForAsync(e => e is TokenEvent { Seq: > 20 });
        await cli.WaitForStderrAsync("Ctrl+C stops it", Timeout);
        cli.Interrupt();
        var exitCode = await cli.WaitForExitAsync(Timeout);

        var final = (StatusEvent)await log.WaitForAsync(e => e is StatusEvent { IsFinal: true });
        Assert.Equal(GenerationStates.Cancelled, final.State);
        Assert.Equal(2, exitCode);
        Assert.Contains("(stopped by stopper)", cli.Stderr);
        Assert.Equal(final.Text!.Trim(), cli.Stdout.Trim());
    }

    [Fact]
    public async Task A_reply_another_member_stops_prints_who_stopped_it()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Offline:TokenDelayMs"] = "20",
            ["Chat:Offline:ReplyTokens"] = "3000",
        });
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(bob);
        await bob.JoinRoomAsync("cli-stopped-by");

        using var cli = CliProcess.Start("--server", server.Url.ToString(), "--name", "alice", "--room", "cli-stopped-by", "--message", "a long one please");
        var token = (TokenEvent)await log.WaitForAsync(e => e is TokenEvent { Seq: > 10 });
        Assert.True(await bob.CancelGenerationAsync(token.GenerationId));

        Assert.Equal(2, await cli.WaitForExitAsync(Timeout));
        Assert.Contains("(stopped by bob)", cli.Stderr);
    }

    [Theory]
    [InlineData(64, "unknown argument '--bogus'", "--bogus")]
    [InlineData(64, "--server must be an http:// or https:// URL", "--server", "ftp://x", "--name", "n", "--message", "m")]
    [InlineData(64, "--name needs a value", "--name")]
    public async Task Bad_arguments_get_a_clear_error(int expectedExit, string error, params string[] args)
    {
        using var cli = CliProcess.Start(args);
        Assert.Equal(expectedExit, await cli.WaitForExitAsync(Timeout));
        Assert.Contains(error, cli.Stderr);
    }

    [Fact]
    public async Task A_bad_room_gets_the_server_s_sentence()
    {
        await using var server = await ChatServer.StartAsync();
        using var cli = CliProcess.Start("--server", server.Url.ToString(), "--name", "n", "--room", "no spaces", "--message", "hi");
        Assert.Equal(1, await cli.WaitForExitAsync(Timeout));
        Assert.Contains("signalrchat: invalid room id", cli.Stderr);
        Assert.DoesNotContain("HubException", cli.Stderr);
    }

    [Fact]
    public async Task At_a_terminal_the_room_hears_while_one_types_and_the_line_goes_out_on_Enter()
    {
        await using var server = await ChatServer.StartAsync();
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(bob);
        var typing = new List<TypingEvent>();
        var heard = new TaskCompletionSource<TypingEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        bob.TypingReceived += e =>
        {
            lock (typing)
            {
                typing.Add(e);
            }

            heard.TrySetResult(e);
        };
        await bob.JoinRoomAsync("cli-typing");
        using var cli = CliProcess.StartInTerminal("--server", server.Url.ToString(), "--name", "typist", "--room", "cli-typing");
        await cli.WaitForStdoutAsync("present:", Timeout);

        // Keys, no Enter yet: bob hears that the typist types.
        cli.Type("hello from a terminal");
        var seen = await heard.Task.WaitAsync(Timeout);
        Assert.Equal("typist", seen.Name);
        Assert.DoesNotContain(log.Events, e => e is MessageEvent);
        cli.Type("xx\u007f\u007f\r");
        var sent = (MessageEvent)await log.WaitForAsync(e => e is MessageEvent { Message.Role: MessageRoles.User });
        Assert.Equal("hello from a terminal", sent.Message.Text);

        cli.Type("/quit\r");
        Assert.Equal(0, await cli.WaitForExitAsync(Timeout));
        lock (typing)
        {
            Assert.All(typing, e => Assert.Equal(("cli-typing", "typist"), (e.RoomId, e.Name)));
        }
    }

    [Fact]
    public async Task Ctrl_C_with_no_reply_running_ends_the_terminal()
    {
        await using var server = await ChatServer.StartAsync();
        using var cli = CliProcess.StartInteractive("--server", server.Url.ToString(), "--name", "quitter", "--room", "cli-quit");
        await cli.WaitForStdoutAsync("joined cli-quit", Timeout);

        cli.Interrupt();

        Assert.Equal(130, await cli.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task After_a_server_restart_the_terminal_rejoins_and_shows_another_member_s_message_and_its_reply()
    {
        // The same signing key on both runs, so the terminal's token stays valid across the restart.
        var settings = new Dictionary<string, string?> { ["Chat:Auth:SigningKey"] = "a-test-signing-key-that-is-long-enough-0123456789" };
        ChatServer? server = await ChatServer.StartAsync(settings);
        var port = server.Url.Port;
        using var cli = CliProcess.StartInteractive("--server", server.Url.ToString(), "--name", "terminal", "--room", "cli-restart");
        try
        {
            await cli.WaitForStdoutAsync("joined cli-restart", Timeout);

            var stopped = server;
            server = null;
            await stopped.DisposeAsync();
            await cli.WaitForStdoutAsync("reconnecting", Timeout);
            server = await ChatServer.StartAsync(settings, port: port);
            await cli.WaitForStdoutAsync("caught up: joined the room afresh", Timeout);

            var bob = await server.ConnectAsync("bob");
            var log = new EventLog(bob);
            await bob.JoinRoomAsync("cli-restart");
            var reply = await bob.AskAsync("cli-restart", "hello after the restart");
            var final = await log.WaitForFinalAsync(reply.GenerationId);
            await cli.WaitForStdoutAsync("bob: hello after the restart", Timeout);
            await cli.WaitForStdoutAsync($"Assistant: {final.Text}", Timeout);

            cli.EndInput();
            Assert.Equal(0, await cli.WaitForExitAsync(Timeout));
            Assert.DoesNotContain("HubException", cli.Stderr);
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    private sealed class CliProcess : IDisposable
    {
        private static readonly string Dll = Path.Combine(Paths.Root, "src", "SignalRChat.Cli", "bin",
            new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "signalrchat.dll");

        private readonly Process _process;
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();
        private readonly Lock _lock = new();
        private readonly List<(StringBuilder Buffer, string Text, TaskCompletionSource Seen)> _waiters = [];

        private CliProcess(Process process)
        {
            _process = process;
        }

        public string Stdout
        {
            get
            {
                lock (_lock)
                {
                    return _stdout.ToString();
                }
            }
        }

        public string Stderr
        {
            get
            {
                lock (_lock)
                {
                    return _stderr.ToString();
                }
            }
        }

        public static CliProcess Start(params string[] args) => Start(args, input: null);

        /// <summary>A conversation whose input stays open until <see cref="EndInput"/>.</summary>
        public static CliProcess StartInteractive(params string[] args) => Start(args, input: null, keepInputOpen: true);

        /// <summary>
        /// The terminal client at a real terminal: util-linux <c>script</c> runs it on a pseudo-terminal and passes what
        /// <see cref="Type"/> writes on as keystrokes.
        /// </summary>
        public static CliProcess StartInTerminal(params string[] args) =>
            Start(["-qfec", string.Join(' ', new[] { "dotnet", Dll }.Concat(args).Select(a => "'" + a.Replace("'", "'\\''") + "'")), "/dev/null"],
                input: null, keepInputOpen: true, program: "script");

        public static CliProcess Start(string[] args, string? input, bool keepInputOpen = false, string? program = null)
        {
            var info = new ProcessStartInfo(program ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            if (program is null)
            {
                info.ArgumentList.Add(Dll);
            }

            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            info.Environment["DOTNET_NOLOGO"] = "1";
            var process = new Process { StartInfo = info };
            var cli = new CliProcess(process);
            process.OutputDataReceived += (_, e) => cli.Append(cli._stdout, e.Data);
            process.ErrorDataReceived += (_, e) => cli.Append(cli._stderr, e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (input is not null)
            {
                process.StandardInput.Write(input);
            }

            if (!keepInputOpen)
            {
                process.StandardInput.Close();
            }

            return cli;
        }

        public void EndInput() => _process.StandardInput.Close();

        /// <summary>Keys pressed one at a time (<c>\r</c> is Enter).</summary>
        public void Type(string keys)
        {
            foreach (var key in keys)
            {
                _process.StandardInput.Write(key);
                _process.StandardInput.Flush();
            }
        }

        /// <summary>Completes once the output holds <paramref name="text"/> (at once if it already does).</summary>
        public Task WaitForStdoutAsync(string text, TimeSpan timeout) => WaitForAsync(_stdout, "printed", text, timeout);

        /// <summary>Completes once the error output holds <paramref name="text"/> (at once if it already does).</summary>
        public Task WaitForStderrAsync(string text, TimeSpan timeout) => WaitForAsync(_stderr, "printed on stderr", text, timeout);

        private Task WaitForAsync(StringBuilder buffer, string where, string text, TimeSpan timeout)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (buffer.ToString().Contains(text, StringComparison.Ordinal))
                {
                    return Task.CompletedTask;
                }

                _waiters.Add((buffer, text, seen));
            }

            return WaitAsync();

            async Task WaitAsync()
            {
                try
                {
                    await seen.Task.WaitAsync(timeout);
                }
                catch (TimeoutException)
                {
                    throw new TimeoutException($"the terminal never {where} '{text}'; it printed:\n{Stdout}\nand on stderr:\n{Stderr}");
                }
            }
        }

        public async Task<int> WaitForExitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the terminal did not exit within {timeout.TotalSeconds:F0} s; it printed:\n{Stdout}\nand on stderr:\n{Stderr}");
            }

            return _process.ExitCode;
        }

        /// <summary>Ctrl+C, as the terminal sends it: SIGINT.</summary>
        public void Interrupt()
        {
            using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
        }

        private void Append(StringBuilder buffer, string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_lock)
            {
                buffer.AppendLine(line);
                var all = buffer.ToString();
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (_waiters[i].Buffer == buffer && all.Contains(_waiters[i].Text, StringComparison.Ordinal))
                    {
                        _waiters[i].Seen.TrySetResult();
                        _waiters.RemoveAt(i);
                    }
                }
            }
        }
    }
}
