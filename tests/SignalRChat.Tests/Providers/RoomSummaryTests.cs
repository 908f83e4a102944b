using System.Text.Json;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests.Providers;

/// <summary>The room_summary tool: structured JSON from the model, judged whole, one retry, progress and cancel.</summary>
public sealed class RoomSummaryTests
{
    private const string ValidSummary = """{"topic":"lunch plans","participants":["alice","bob"],"keyPoints":["pizza"],"openQuestions":["when?"]}""";

    [Fact]
    public async Task The_offline_model_summarizes_the_room_through_the_tool_with_no_network()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("offline-summary");
        await bob.JoinRoomAsync("offline-summary");

        await log.WaitForFinalAsync((await alice.AskAsync("offline-summary", "shall we plan the release?")).GenerationId);
        await log.WaitForFinalAsync((await bob.AskAsync("offline-summary", "is friday too early?")).GenerationId);
        var reply = await alice.AskAsync("offline-summary", "please summarize the room");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Contains("Topic: shall we plan the release?", final.Text);
        Assert.Contains("Participants: alice, bob.", final.Text);
        var tool = log.Events.OfType<ToolProgressEvent>().Where(t => t.GenerationId == reply.GenerationId).ToList();
        Assert.Equal(ToolPhases.Started, tool[0].Phase);
        Assert.Equal("room_summary", tool[0].Tool);
        Assert.Contains(tool, t => t.Phase == ToolPhases.Progress && t.Progress is > 0 and < 1 && !string.IsNullOrEmpty(t.Detail));
        Assert.Equal(ToolPhases.Completed, tool[^1].Phase);
        Assert.StartsWith("{\"topic\":\"shall we plan the release?\",\"participants\":[\"alice\",\"bob\"]", tool[^1].Detail);
    }

    [Fact]
    public async Task An_invalid_summary_is_asked_for_once_more_and_the_valid_one_goes_back_to_the_model()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_sum", "room_summary", "{}"), Chunks.Finish("tool_calls")),
            WireReply.Text("{\"topic\": 5, ", "\"participants\": []}"),
            WireReply.Text(ValidSummary[..20], ValidSummary[20..50], ValidSummary[50..]),
            WireReply.Text("You ", "talked ", "about ", "lunch."));
        await using var server = await ChatServer.StartAsync(ProviderTests.OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("summary");

        var reply = await alice.AskAsync("summary", "summarize please");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal("You talked about lunch.", final.Text);
        Assert.Equal(4, wire.Requests.Count);
        var summaryRequest = wire.Requests[1];
        Assert.False(summaryRequest.HasTools);
        Assert.Equal("json_schema", summaryRequest.Body.GetProperty("response_format").GetProperty("type").GetString());
        Assert.Equal("alice: summarize please", ProviderTests.Content(summaryRequest.Messages[^1]));
        Assert.Contains("'topic' must be a non-empty string", ProviderTests.Content(wire.Requests[2].Messages[^1]));
        Assert.Contains(log.Events.OfType<ToolProgressEvent>(), t => t.Phase == ToolPhases.Progress && t.Detail!.Contains("asking again", StringComparison.Ordinal));
        var result = wire.Requests[3].Messages.Single(m => m.GetProperty("role").GetString() == "tool");
        using var returned = JsonDocument.Parse(ProviderTests.Content(result));
        Assert.Equal("lunch plans", returned.RootElement.GetProperty("topic").GetString());
    }

    [Fact]
    public async Task Two_invalid_summaries_fail_the_tool_with_a_clear_reason_and_the_reply_goes_on()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_sum", "room_summary", "{}"), Chunks.Finish("tool_calls")),
            WireReply.Text("Sure! ", "Here is a summary: ..."),
            WireReply.Text("{\"topic\":\"x\",", "\"participants\":[1]", ",\"keyPoints\":[],\"openQuestions\":[]}"),
            WireReply.Text("I ", "could ", "not ", "summarize."));
        await using var server = await ChatServer.StartAsync(ProviderTests.OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("summary-fail");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("summary-fail", "summarize")).GenerationId);

        Assert.Equal(GenerationStates.Completed, final.State);
        var failed = Assert.Single(log.Events.OfType<ToolProgressEvent>(), t => t.Phase == ToolPhases.Failed);
        Assert.Equal("the model gave no valid summary in two tries ('participants' must be an array of strings)", failed.Detail);
        Assert.StartsWith("error: the model gave no valid summary", ProviderTests.Content(wire.Requests[3].Messages.Single(m => m.GetProperty("role").GetString() == "tool")));
    }

    [Fact]
    public async Task A_slow_summary_reports_progress_and_stop_closes_its_upstream_request()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_sum", "room_summary", "{}"), Chunks.Finish("tool_calls")),
            WireReply.Endless("{\"topic\":\"", TimeSpan.FromMilliseconds(10)));
        await using var server = await ChatServer.StartAsync(ProviderTests.OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("slow-summary");

        var reply = await alice.AskAsync("slow-summary", "summarize the room");
        await log.WaitForAsync(e => e is ToolProgressEvent { Phase: ToolPhases.Progress, Progress: > 0.1 } p && p.Detail!.StartsWith("writing", StringComparison.Ordinal));
        Assert.True(await reply.StopAsync());

        await (await wire.WaitForRequestAsync(2)).ClosedByCaller.WaitAsync(TimeSpan.FromSeconds(10));
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Cancelled, final.State);
        Assert.Equal(2, wire.Requests.Count);
        var last = log.Events.OfType<ToolProgressEvent>().Last();
        Assert.NotEqual(ToolPhases.Completed, last.Phase);
    }

    [Fact]
    public async Task A_summary_request_the_server_rejects_fails_the_tool_and_the_reply_readably()
    {
        await using var wire = await OpenAIWireServer.StartAsync();
        wire.Enqueue(
            WireReply.Stream(Chunks.Role(), Chunks.ToolCall(0, "call_sum", "room_summary", "{}"), Chunks.Finish("tool_calls")),
            WireReply.Status(400));
        await using var server = await ChatServer.StartAsync(ProviderTests.OpenAI(wire));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("summary-400");

        var final = await log.WaitForFinalAsync((await alice.AskAsync("summary-400", "summarize")).GenerationId);

        Assert.Equal(GenerationStates.Failed, final.State);
        Assert.Equal("the model server rejected the request (HTTP 400)", final.Error);
        Assert.Equal("the model server rejected the request (HTTP 400)", Assert.Single(log.Events.OfType<ToolProgressEvent>(), t => t.Phase == ToolPhases.Failed).Detail);
        Assert.Equal(2, wire.Requests.Count);
    }
}
