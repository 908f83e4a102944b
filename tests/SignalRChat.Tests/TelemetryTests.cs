using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;
using EventLog = SignalRChat.Tests.Infrastructure.EventLog;

namespace SignalRChat.Tests;

public sealed class TelemetryTests
{
    [Fact]
    public async Task A_reply_with_a_tool_call_is_one_trace_from_the_hub_call_through_the_model_and_the_tool_and_counts_its_tokens()
    {
        using var spans = new SpanRecorder();
        await using var server = await ChatServer.StartAsync();
        using var metrics = new MetricRecorder(server.Services.GetRequiredService<IMeterFactory>());
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("traced");

        var reply = await alice.AskAsync("traced", "please calculate 17*23");
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);

        var generation = await spans.WaitForAsync(a => a.OperationName == "generation" && Tag(a, "signalrchat.generation.id") == reply.GenerationId);
        Assert.Equal("traced", Tag(generation, "signalrchat.room.id"));
        Assert.Equal(GenerationStates.Completed, Tag(generation, "signalrchat.generation.state"));

        // The hub invocation that sent the message is the generation's parent.
        var hubCall = spans.Stopped.SingleOrDefault(a => a.SpanId == generation.ParentSpanId);
        Assert.NotNull(hubCall);
        Assert.Equal("Microsoft.AspNetCore.SignalR.Server", hubCall.Source.Name);
        Assert.Contains("SendMessage", hubCall.DisplayName);

        // Beneath it: the model's gen_ai "chat" spans and the tool call.
        var inTrace = spans.Stopped.Where(a => a.TraceId == generation.TraceId).ToList();
        var tool = Assert.Single(inTrace, a => a.OperationName.StartsWith("execute_tool", StringComparison.Ordinal));
        Assert.Equal("calculator", Tag(tool, "gen_ai.tool.name"));
        Assert.True(IsBeneath(tool, generation, inTrace), "the tool span is not beneath the generation span");
        var chats = inTrace.Where(a => a.OperationName.StartsWith("chat", StringComparison.Ordinal)).ToList();
        Assert.True(chats.Count > 0, "no model span in: " + string.Join(", ", inTrace.Select(a => a.OperationName)));
        Assert.All(chats, chat => Assert.True(IsBeneath(chat, generation, inTrace), "a model span is not beneath the generation span"));

        // Prompts and replies are not exported.
        Assert.DoesNotContain(inTrace.SelectMany(a => a.TagObjects), t => t.Key.StartsWith("gen_ai.input.messages", StringComparison.Ordinal) || t.Key.StartsWith("gen_ai.output.messages", StringComparison.Ordinal));

        var tokens = log.TokenCount(reply.GenerationId);
        await metrics.WaitForAsync("signalrchat.tokens", all => all.Sum(m => m.Value) >= tokens);
        await metrics.WaitForAsync("signalrchat.generation.time_to_first_token", all => all.Count >= 1 && all.All(m => m.Value >= 0));
        metrics.Observe();
        Assert.True(metrics.Last("signalrchat.connections") >= 1);
        Assert.True(metrics.Sum("signalrchat.rooms.active") >= 1);
        Assert.Equal(0, metrics.Sum("signalrchat.generations.active"));
    }

    [Fact]
    public async Task Stop_records_the_cancel_latency_and_a_waiting_reply_counts_in_the_queue_depth()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Offline:TokenDelayMs"] = "10",
            ["Chat:Offline:ReplyTokens"] = "3000",
        });
        using var metrics = new MetricRecorder(server.Services.GetRequiredService<IMeterFactory>());
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("stopped");

        var running = await alice.AskAsync("stopped", "a long story please");
        await log.WaitForTokensAsync(running.GenerationId, 3);
        var waiting = await alice.AskAsync("stopped", "and another one");
        await log.WaitForAsync(e => e is StatusEvent { State: GenerationStates.Queued } s && s.GenerationId == waiting.GenerationId);
        Assert.Equal(1, metrics.Sum("signalrchat.generations.queued"));
        Assert.Equal(1, metrics.Sum("signalrchat.generations.active"));

        Assert.True(await running.StopAsync());
        await log.WaitForFinalAsync(running.GenerationId);
        await metrics.WaitForAsync("signalrchat.generation.cancel_latency", all => all.Count == 1 && all[0].Value >= 0);

        // The waiting reply starts; then it is stopped too.
        await log.WaitForTokensAsync(waiting.GenerationId, 1);
        Assert.Equal(0, metrics.Sum("signalrchat.generations.queued"));
        Assert.True(await waiting.StopAsync());
        await log.WaitForFinalAsync(waiting.GenerationId);
        await metrics.WaitForAsync("signalrchat.generation.cancel_latency", all => all.Count == 2);
        await metrics.WaitForAsync("signalrchat.generations.active", all => all.Sum(m => m.Value) == 0);
    }

    [Fact]
    public async Task With_Redis_every_room_script_call_is_timed_and_a_Stop_from_the_other_node_records_its_latency()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = redis.NodeSettings();
        settings["Chat:Offline:TokenDelayMs"] = "10";
        settings["Chat:Offline:ReplyTokens"] = "3000";
        await using var first = await ChatServer.StartAsync(settings);
        await using var second = await ChatServer.StartAsync(settings);
        using var metrics = new MetricRecorder(first.Services.GetRequiredService<IMeterFactory>());
        var alice = await first.ConnectAsync("alice");
        var bob = await second.ConnectAsync("bob");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("redis-metrics");
        await bob.JoinRoomAsync("redis-metrics");

        var reply = await alice.AskAsync("redis-metrics", "a long story please");
        await log.WaitForTokensAsync(reply.GenerationId, 3);
        Assert.True(await bob.CancelGenerationAsync(reply.GenerationId));
        Assert.Equal(GenerationStates.Cancelled, (await log.WaitForFinalAsync(reply.GenerationId)).State);

        await metrics.WaitForAsync("signalrchat.generation.cancel_latency", all => all.Count == 1);
        await metrics.WaitForAsync("signalrchat.redis.duration", all => all.Count >= 3 && all.All(m => m.Value >= 0));
    }

    private static string? Tag(Activity activity, string name) => activity.GetTagItem(name)?.ToString();

    private static bool IsBeneath(Activity span, Activity ancestor, IReadOnlyList<Activity> trace)
    {
        for (var current = span; current is not null; current = trace.FirstOrDefault(a => a.SpanId == current.ParentSpanId))
        {
            if (current.ParentSpanId == ancestor.SpanId)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Listens to the service's spans (and the hub's), as an OpenTelemetry exporter would.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly List<(Func<Activity, bool> Match, TaskCompletionSource<Activity> Done)> _waiters = [];

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name is "SignalRChat" or "Microsoft.AspNetCore.SignalR.Server",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = Stopped_,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public IReadOnlyList<Activity> Stopped => _stopped.ToList();

        public Task<Activity> WaitForAsync(Func<Activity, bool> match)
        {
            var done = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waiters)
            {
                if (_stopped.FirstOrDefault(match) is { } seen)
                {
                    return Task.FromResult(seen);
                }

                _waiters.Add((match, done));
            }

            return done.Task.WaitAsync(EventLog.DefaultTimeout);
        }

        public void Dispose() => _listener.Dispose();

        private void Stopped_(Activity activity)
        {
            lock (_waiters)
            {
                _stopped.Enqueue(activity);
                foreach (var waiter in _waiters.Where(w => w.Match(activity)).ToList())
                {
                    waiter.Done.TrySetResult(activity);
                    _waiters.Remove(waiter);
                }
            }
        }
    }
}

public sealed class TelemetrySettingsTests
{
    [Theory]
    [InlineData("Chat:Telemetry:OtlpEndpoint", "collector:4317", "Chat:Telemetry:OtlpEndpoint must be an absolute http:// or https:// URL")]
    [InlineData("Chat:Telemetry:Console", "sometimes", "Chat:Telemetry has a value of the wrong type")]
    public async Task A_wrong_telemetry_setting_stops_the_start_with_a_sentence_naming_the_key(string key, string value, string expected)
    {
        var refused = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            ChatServer.StartAsync(new Dictionary<string, string?> { [key] = value }));
        Assert.StartsWith(expected, string.Join("; ", refused.Failures));
    }

    [Fact]
    public async Task With_an_OTLP_collector_that_is_not_there_the_service_still_replies_and_is_ready()
    {
        var port = RedisServer.FreePort();
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Telemetry:OtlpEndpoint"] = $"http://127.0.0.1:{port}" });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("exported");

        var reply = await alice.AskAsync("exported", "please calculate 6*7");
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(reply.GenerationId)).State);
        using var http = server.CreateHttpClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
    }
}
