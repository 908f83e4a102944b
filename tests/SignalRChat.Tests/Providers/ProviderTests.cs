using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests.Providers;

/// <summary>The OpenAI and Azure OpenAI providers, driven through the real hub against a real OpenAI-wire server.</summary>
public sealed class ProviderTests
{
    private const string Secret = "sk-test-very-secret-4711";

    internal static Dictionary<string, string?> OpenAI(OpenAIWireServer wire, string? key = null) => new()
    {
        ["Chat:Model:Provider"] = "OpenAI",
        ["Chat:OpenAI:Endpoint"] = wire.OpenAIEndpoint,
        ["Chat:OpenAI:Model"] = "wire-model",
        ["Chat:OpenAI:ApiKey"] = key,
        ["Chat:Model:RetryDelayMs"] = "1",
    };

    internal static Dictionary<string, string?> Azure(OpenAIWireServer wire, string key) => new()
    {
        ["Chat:Model:Provider"] = "AzureOpenAI",
        ["Chat:AzureOpenAI:Endpoint"] = wire.Url.ToString(),
        ["Chat:AzureOpenAI:Deployment"] = "chat-deployment",
        ["Chat:AzureOpenAI:ApiKey"] = key,
        ["Chat:Model:RetryDelayMs"] = "1",
    };

    [Fact]
    public async Task Tokens_from_an_OpenAI_compatible_server_are_relayed_with_usage_and_named_authors()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(WireReply.Stream(Chunks.Role(), Chunks.Text("Hello "), Chunks.Text("alice, "), Chunks.Text("welcome."), Chunks.Finish("stop"), Chunks.Usage(42, 3)));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("wire");

        var reply = await alice.AskAsync("wire", "hi there");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("Hello alice, welcome.", final.Text);
        // Three deltas, in order (those that came in one read are written as one delta).
        Assert.InRange(log.TokenCount(reply.GenerationId), 1, 3);
        Assert.Equal(final.Text, log.TextOf(reply.GenerationId));
        Assert.Equal(new UsageInfo(42, 3), final.Usage);

        var request = Assert.Single(wire.Requests);
        Assert.Equal("/v1/chat/completions", request.Path);
        Assert.Equal("wire-model", request.Body.GetProperty("model").GetString());
        Assert.True(request.Body.GetProperty("stream").GetBoolean());
        Assert.True(request.Body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("system", request.Messages[0].GetProperty("role").GetString());
        Assert.Equal("alice: hi there", Content(request.Messages[^1]));
        Assert.True(request.HasTools);
    }

    [Fact]
    public async Task Fragmented_tool_calls_run_once_each_with_whole_arguments_and_their_results_go_back_to_the_model()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(
            WireReply.Stream(
                Chunks.Role(),
                Chunks.ToolCall(0, "call_calc", "calculator", ""),
                Chunks.ToolCall(0, null, null, "{\"expr"),
                Chunks.ToolCall(1, "call_clock", "clock", "{"),
                Chunks.ToolCall(0, null, null, "ession\": \"17"),
                Chunks.ToolCall(1, null, null, "}"),
                Chunks.ToolCall(0, null, null, "*23\"}"),
                Chunks.Finish("tool_calls")),
            WireReply.Text("It ", "is ", "391."));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("tools");

        var reply = await alice.AskAsync("tools", "what is 17*23, and what time is it?");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("It is 391.", final.Text);
        var tools = log.Events.OfType<ToolProgressEvent>().ToList();
        Assert.Single(tools, t => t is { Tool: "calculator", Phase: ToolPhases.Started, CallId: "call_calc" });
        Assert.Single(tools, t => t is { Tool: "clock", Phase: ToolPhases.Started, CallId: "call_clock" });
        Assert.Equal("391", Assert.Single(tools, t => t is { Tool: "calculator", Phase: ToolPhases.Completed }).Detail);
        Assert.Single(tools, t => t is { Tool: "clock", Phase: ToolPhases.Completed });

        // The second round carries both calls, whole, and both results.
        Assert.Equal(2, wire.Requests.Count);
        var second = wire.Requests[1];
        var calls = second.Messages.Single(m => m.TryGetProperty("tool_calls", out _)).GetProperty("tool_calls").EnumerateArray().ToList();
        var calculatorArguments = JsonDocument.Parse(calls.Single(c => c.GetProperty("id").GetString() == "call_calc").GetProperty("function").GetProperty("arguments").GetString()!);
        Assert.Equal("17*23", calculatorArguments.RootElement.GetProperty("expression").GetString());
        var results = second.Messages.Where(m => m.GetProperty("role").GetString() == "tool").ToList();
        Assert.Equal(2, results.Count);
        Assert.Equal("391", Content(results.Single(r => r.GetProperty("tool_call_id").GetString() == "call_calc")));
    }

    [Fact]
    public async Task A_round_asking_for_more_tool_calls_than_MaxToolCallsPerRound_runs_none_and_the_room_goes_on()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        // The attack: one model answer asking for four calculator calls at once.
        wire.Enqueue(
            WireReply.Stream(
                Chunks.Role(),
                Chunks.ToolCall(0, "call_1", "calculator", "{\"expression\": \"1+1\"}"),
                Chunks.ToolCall(1, "call_2", "calculator", "{\"expression\": \"2+2\"}"),
                Chunks.ToolCall(2, "call_3", "calculator", "{\"expression\": \"3+3\"}"),
                Chunks.ToolCall(3, "call_4", "calculator", "{\"expression\": \"4+4\"}"),
                Chunks.Finish("tool_calls")),
            WireReply.Text("I ", "asked ", "for ", "too ", "much."),
            WireReply.Text("Fine, ", "thanks."));
        var settings = OpenAI(wire);
        settings["Chat:Model:MaxToolCallsPerRound"] = "3";
        await using var server = await ChatServer.StartAsync(settings);
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("greedy");
        await bob.JoinRoomAsync("greedy");

        var reply = await alice.AskAsync("greedy", "add up everything");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("I asked for too much.", final.Text);

        // Every member sees each call of the round refused, naming the key; none of them ran.
        foreach (var events in new[] { log, bobLog })
        {
            await events.WaitForFinalAsync(reply.GenerationId);
            var tools = events.Events.OfType<ToolProgressEvent>().Where(t => t.GenerationId == reply.GenerationId).ToList();
            Assert.DoesNotContain(tools, t => t.Phase == ToolPhases.Completed);
            var failed = tools.Where(t => t.Phase == ToolPhases.Failed).ToList();
            Assert.Equal(["call_1", "call_2", "call_3", "call_4"], failed.Select(t => t.CallId));
            Assert.All(failed, t => Assert.Equal("refused: 4 tool calls in one round, at most 3 are run (Chat:Model:MaxToolCallsPerRound)", t.Detail));
        }

        // The model heard the refusal as each call's result.
        var results = (await wire.WaitForRequestAsync(2)).Messages.Where(m => m.GetProperty("role").GetString() == "tool").ToList();
        Assert.Equal(4, results.Count);
        Assert.All(results, r => Assert.StartsWith("refused: 4 tool calls in one round", Content(r), StringComparison.Ordinal));

        // The room goes on: the next message gets its reply.
        var next = await bob.AskAsync("greedy", "thanks anyway");
        var nextFinal = await bobLog.WaitForFinalAsync(next.GenerationId);
        Assert.Equal(GenerationStates.Completed, nextFinal.State);
        Assert.Equal("Fine, thanks.", nextFinal.Text);
    }

    [Fact]
    public async Task Malformed_tool_arguments_are_answered_to_the_model_as_a_tool_error_and_shown_as_failed()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_bad", "calculator", "{\"expression\": \"1+"), Chunks.ToolCall(0, null, null, "2"), Chunks.Finish("tool_calls")),
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_typed", "calculator", "{\"expression\": 12}"), Chunks.Finish("tool_calls")),
            WireReply.Text("Sorry, ", "I ", "could ", "not."));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("bad-args");

        var reply = await alice.AskAsync("bad-args", "calculate 1+2");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("Sorry, I could not.", final.Text);
        var failed = log.Events.OfType<ToolProgressEvent>().Where(t => t.Phase == ToolPhases.Failed).ToList();
        Assert.Equal(2, failed.Count);
        Assert.Equal("the arguments were not valid JSON", failed[0].Detail);
        Assert.Equal("argument 'expression' must be of type string", failed[1].Detail);
        Assert.Equal(3, wire.Requests.Count);
        Assert.StartsWith("error: the arguments were not valid JSON", Content(wire.Requests[1].Messages.Single(m => m.GetProperty("role").GetString() == "tool")));
        Assert.StartsWith("error: argument 'expression'", Content(wire.Requests[2].Messages.Last(m => m.GetProperty("role").GetString() == "tool")));
    }

    [Fact]
    public async Task Tool_rounds_stop_at_MaxToolRounds()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.DefaultReply = WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_again", "clock", "{}"), Chunks.Finish("tool_calls"));
        var settings = OpenAI(wire);
        settings["Chat:Model:MaxToolRounds"] = "2";
        await using var server = await ChatServer.StartAsync(settings);
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("rounds");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("rounds", "what time is it? keep asking")).GenerationId);

        Assert.True(GenerationStates.IsFinal(final.State));
        Assert.Equal(2, log.Events.OfType<ToolProgressEvent>().Count(t => t.Phase == ToolPhases.Completed));
        Assert.InRange(wire.Requests.Count, 2, 3);
    }

    [Fact]
    public async Task A_call_a_member_denies_goes_back_to_the_model_as_a_refusal_naming_who_denied_it_and_does_not_run()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_topic", "set_room_topic", "{\"topic\":\"Taken over\"}"), Chunks.Finish("tool_calls")),
            WireReply.Text("Understood, ", "the topic stays."));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("wire-deny");
        await bob.JoinRoomAsync("wire-deny");

        var reply = await alice.AskAsync("wire-deny", "change the topic please");
        var pending = (ToolApprovalEvent)await bobLog.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });
        Assert.Equal(("set_room_topic", "call_topic", "Taken over"), (pending.Tool, pending.CallId, pending.Arguments.GetProperty("topic").GetString()));
        Assert.True(await bob.DecideToolCallAsync(pending.ApprovalId, approve: false));

        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("Understood, the topic stays.", final.Text);
        Assert.Equal(2, wire.Requests.Count);
        var answer = Assert.Single(wire.Requests[1].Messages, m => m.GetProperty("role").GetString() == "tool");
        Assert.Equal("call_topic", answer.GetProperty("tool_call_id").GetString());
        var said = Content(answer);
        Assert.Contains("rejected", said);
        Assert.Contains("bob", said);
        Assert.Contains("denied", said);
        Assert.DoesNotContain(aliceLog.Events, e => e is ToolProgressEvent { Phase: ToolPhases.Started } || e is RoomSettingsEvent);
        Assert.Null((await alice.JoinRoomAsync("wire-deny")).Settings.Topic);
    }

    [Fact]
    public async Task Stop_closes_the_upstream_request_and_keeps_the_partial_text()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(WireReply.Endless("more ", TimeSpan.FromMilliseconds(20)));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("stop-upstream");

        var reply = await alice.AskAsync("stop-upstream", "talk forever");
        await log.WaitForTokensAsync(reply.GenerationId, 3);
        Assert.True(await reply.StopAsync());

        var request = await wire.WaitForRequestAsync(1);
        await request.ClosedByCaller.WaitAsync(TimeSpan.FromSeconds(10));
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Cancelled, final.State);
        Assert.StartsWith("more more more ", final.Text);
        Assert.Single(wire.Requests);

        // The server sent no usage before it was cut off: the streamed deltas are counted, and charged to the one who asked.
        Assert.NotNull(final.Usage);
        Assert.True(final.Usage!.OutputTokens >= 3, $"counted {final.Usage.OutputTokens} output tokens");
        Assert.True(final.Usage.InputTokens > 0);
        var limiter = server.Services.GetRequiredService<SignalRChat.Server.Limits.IUserLimiter>();
        var used = await limiter.GetTokensUsedAsync(alice.Session!.UserId, DateOnly.FromDateTime(DateTime.UtcNow));
        Assert.True(used >= final.Usage.InputTokens + final.Usage.OutputTokens, $"charged {used}, used {final.Usage}");
    }

    [Fact]
    public async Task Rate_limits_and_server_errors_before_the_first_token_are_retried()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(WireReply.Status(429), WireReply.Status(500), WireReply.Status(503), WireReply.Text("Third ", "time ", "lucky."));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("retry");

        var reply = await alice.AskAsync("retry", "hello?");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("Third time lucky.", final.Text);
        Assert.Equal(4, wire.Requests.Count);
        Assert.Equal(3, server.Logs.Lines.Count(l => l.Contains("retry", StringComparison.Ordinal) && l.Contains("Model call failed", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_connection_reset_before_the_first_token_is_retried()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(WireReply.BreakAfter(Task.CompletedTask, Chunks.Role()), WireReply.Text("Back ", "again."));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("reset");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("reset", "hello?")).GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("Back again.", final.Text);
        Assert.Equal("Back again.", log.TextOf(final.GenerationId));
        Assert.Equal(2, wire.Requests.Count);
    }

    [Fact]
    public async Task Retries_give_up_with_a_readable_error_when_the_server_keeps_failing()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.DefaultReply = WireReply.Status(502);
        var settings = OpenAI(wire);
        settings["Chat:Model:MaxRetries"] = "2";
        await using var server = await ChatServer.StartAsync(settings);
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("retry-fail");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("retry-fail", "hello?")).GenerationId);

        Assert.Equal(GenerationStates.Failed, final.State);
        Assert.Equal("the model server failed (HTTP 502)", final.Error);
        Assert.Equal(3, wire.Requests.Count);
    }

    [Fact]
    public async Task A_connection_lost_after_the_first_token_fails_cleanly_without_a_retry_and_keeps_the_partial_text()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        var drop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        wire.Enqueue(WireReply.BreakAfter(drop.Task, Chunks.Role(), Chunks.Text("Half "), Chunks.Text("a ")));
        await using var server = await ChatServer.StartAsync(OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("broken");

        var reply = await alice.AskAsync("broken", "tell me");
        await log.WaitForTokensAsync(reply.GenerationId, 2);
        drop.SetResult();
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Failed, final.State);
        Assert.Equal("Half a ", final.Text);
        Assert.Equal($"the connection to the model server at {wire.Url.GetLeftPart(UriPartial.Authority)} broke", final.Error);
        Assert.Single(wire.Requests);

        // The room keeps the partial reply as a failed message.
        var snapshot = await alice.JoinRoomAsync("broken");
        var kept = snapshot.Messages.Single(m => m.MessageId == final.MessageId);
        Assert.Equal(MessageStates.Failed, kept.State);
        Assert.Equal("Half a ", kept.Text);
    }

    [Fact]
    public async Task A_wrong_key_fails_the_reply_readably_and_the_key_appears_in_no_log_line_or_event()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.RequiredKey = "the-right-key";
        await using var server = await ChatServer.StartAsync(OpenAI(wire, Secret));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("wrong-key");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("wrong-key", "hello")).GenerationId);

        Assert.Equal(GenerationStates.Failed, final.State);
        Assert.Equal("the model server refused the key", final.Error);
        Assert.Equal("Bearer " + Secret, Assert.Single(wire.Requests).Authorization);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal) || l.Contains("4711", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Events, e => JsonSerializer.Serialize<object>(e).Contains("4711", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unreachable_server_fails_the_reply_with_could_not_reach()
    {
        int closedPort;
        await using (var gone = await OpenAIWireServer.StartAsync())
        {
            closedPort = gone.Url.Port;
        }

        var settings = new Dictionary<string, string?>
        {
            ["Chat:Model:Provider"] = "OpenAI",
            ["Chat:OpenAI:Endpoint"] = $"http://127.0.0.1:{closedPort}/v1",
            ["Chat:OpenAI:Model"] = "nothing",
            ["Chat:OpenAI:ApiKey"] = Secret,
            ["Chat:Model:MaxRetries"] = "1",
            ["Chat:Model:RetryDelayMs"] = "1",
        };
        await using var server = await ChatServer.StartAsync(settings);
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("nowhere");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("nowhere", "anyone?")).GenerationId);

        Assert.Equal(GenerationStates.Failed, final.State);
        Assert.Equal($"could not reach the model server at http://127.0.0.1:{closedPort}", final.Error);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal));
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains("   at ", StringComparison.Ordinal) && l.Contains("ClientResultException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Azure_OpenAI_uses_the_deployment_route_and_key_header_and_runs_tools()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.RequiredKey = Secret;
        wire.Enqueue(
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_1", "calculator", "{\"expression\":"), Chunks.ToolCall(0, null, null, "\"2^10\"}"), Chunks.Finish("tool_calls")),
            WireReply.Stream(Chunks.Role(), Chunks.Text("That "), Chunks.Text("is "), Chunks.Text("1024."), Chunks.Finish("stop"), Chunks.Usage(30, 4)));
        await using var server = await ChatServer.StartAsync(Azure(wire, Secret));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("azure");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("azure", "what is 2^10?")).GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("That is 1024.", final.Text);
        Assert.Equal(new UsageInfo(30, 4), final.Usage);
        Assert.Equal("1024", log.Events.OfType<ToolProgressEvent>().Single(t => t.Phase == ToolPhases.Completed).Detail);
        Assert.Equal(2, wire.Requests.Count);
        Assert.All(wire.Requests, r =>
        {
            Assert.Equal("/openai/deployments/chat-deployment/chat/completions", r.Path);
            Assert.Equal("chat-deployment", r.Deployment);
            Assert.Contains("api-version=", r.Query);
            Assert.Equal(Secret, r.ApiKeyHeader);
            Assert.True(r.Body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        });
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Azure_OpenAI_stop_closes_the_upstream_request_and_a_wrong_key_is_refused()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(WireReply.Endless("azure ", TimeSpan.FromMilliseconds(20)));
        await using var server = await ChatServer.StartAsync(Azure(wire, Secret));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("azure-stop");

        var reply = await alice.AskAsync("azure-stop", "go on");
        await log.WaitForTokensAsync(reply.GenerationId, 2);
        Assert.True(await reply.StopAsync());
        await (await wire.WaitForRequestAsync(1)).ClosedByCaller.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(GenerationStates.Cancelled, (await log.WaitForFinalAsync(reply.GenerationId)).State);

        wire.RequiredKey = "another-key";
        var refused = await log.WaitForFinalAsync((await alice.AskAsync("azure-stop", "again")).GenerationId);
        Assert.Equal(GenerationStates.Failed, refused.State);
        Assert.Equal("the model server refused the key", refused.Error);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task History_keeps_the_newest_messages_within_the_token_budget()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        var settings = OpenAI(wire);
        settings["Chat:Model:MaxHistoryTokens"] = "100";
        settings["Chat:Model:SystemPrompt"] = "You are a test assistant.";
        await using var server = await ChatServer.StartAsync(settings);
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("budget");
        await bob.JoinRoomAsync("budget");

        var oldText = "old " + new string('x', 400);
        await log.WaitForFinalAsync((await alice.AskAsync("budget", oldText)).GenerationId);
        await log.WaitForFinalAsync((await bob.AskAsync("budget", "what did alice say?")).GenerationId);

        var last = wire.Requests[^1];
        var contents = last.Messages.Select(Content).ToList();
        Assert.Equal("You are a test assistant.", contents[0]);
        Assert.Equal("bob: what did alice say?", contents[^1]);
        Assert.DoesNotContain(contents, c => c.Contains(oldText, StringComparison.Ordinal));
        Assert.Contains("Hello from the wire.", contents);
    }

    [Theory]
    [InlineData("OpenAI", "Chat:OpenAI:Model", "Chat:OpenAI:Endpoint")]
    [InlineData("OpenAI", "Chat:OpenAI:Endpoint", "Chat:OpenAI:Model")]
    [InlineData("AzureOpenAI", "Chat:AzureOpenAI:Deployment", "Chat:AzureOpenAI:Endpoint")]
    [InlineData("AzureOpenAI", "Chat:AzureOpenAI:Endpoint", "Chat:AzureOpenAI:Deployment")]
    public async Task A_missing_endpoint_deployment_or_model_stops_start_up_naming_the_key(string provider, string givenKey, string missingKey)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Chat:Model:Provider"] = provider,
            [givenKey] = givenKey.EndsWith("Endpoint", StringComparison.Ordinal) ? "http://127.0.0.1:9/v1" : "something",
            [$"Chat:{provider}:ApiKey"] = Secret,
        };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => ChatServer.StartAsync(settings));

        Assert.Contains(missingKey, error.Message);
        Assert.DoesNotContain(Secret, error.Message);
    }

    [Fact]
    public async Task An_endpoint_that_is_not_an_http_url_stops_start_up()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Chat:Model:Provider"] = "OpenAI",
            ["Chat:OpenAI:Endpoint"] = "localhost:11434",
            ["Chat:OpenAI:Model"] = "llama3.2",
        };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => ChatServer.StartAsync(settings));
        Assert.Contains("Chat:OpenAI:Endpoint", error.Message);
    }

    internal static string Content(JsonElement message) => message.GetProperty("content") switch
    {
        { ValueKind: JsonValueKind.String } s => s.GetString()!,
        { ValueKind: JsonValueKind.Array } parts => string.Concat(parts.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : string.Empty)),
        _ => string.Empty,
    };
}
