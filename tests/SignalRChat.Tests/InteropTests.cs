using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>The wire format of the AG-UI and AI SDK routes, read frame by frame with a plain HttpClient.</summary>
public sealed class InteropTests
{
    [Fact]
    public async Task AgUi_answers_a_run_as_events_whose_ids_are_the_room_seqs()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("agui-wire");
        var bob = await ChatClientSession(server, "bob");

        using var http = server.CreateHttpClient();
        using var request = Post("/api/rooms/agui-wire/agui", bob,
            """{"threadId":"agui-wire","runId":"client-run","messages":[{"id":"u1","role":"user","content":"calculate 17*23"}],"tools":[],"context":[],"state":{},"forwardedProps":{}}""");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        var frames = await ReadAllAsync(response);

        var events = frames.Select(f => JsonDocument.Parse(f.Data!).RootElement).ToList();
        var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal("RUN_STARTED", types[0]);
        Assert.Equal("RUN_FINISHED", types[^1]);
        Assert.Equal(["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT"], types.Where(t => t!.StartsWith("TOOL_CALL_", StringComparison.Ordinal)));
        Assert.True(types.IndexOf("TEXT_MESSAGE_START") < types.IndexOf("TEXT_MESSAGE_CONTENT"));
        Assert.Equal(types.Count - 2, types.IndexOf("TEXT_MESSAGE_END"));

        var runId = events[0].GetProperty("runId").GetString()!;
        Assert.Equal("agui-wire", events[0].GetProperty("threadId").GetString());
        var final = await log.WaitForFinalAsync(runId);
        Assert.Equal(GenerationStates.Completed, final.State);

        // Every event names the room seq it comes from, in order, the last one the final status's.
        var seqs = frames.Select(f => long.Parse(f.Id!)).ToList();
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(final.Seq, seqs[^1]);
        Assert.Equal(log.Events.OfType<MessageEvent>().Single(m => m.Message.Role == MessageRoles.User).Seq, seqs[0]);

        var args = events.Single(e => e.GetProperty("type").GetString() == "TOOL_CALL_ARGS").GetProperty("delta").GetString()!;
        Assert.Equal("17*23", JsonDocument.Parse(args).RootElement.GetProperty("expression").GetString());
        var start = events.Single(e => e.GetProperty("type").GetString() == "TOOL_CALL_START");
        Assert.Equal(final.MessageId, start.GetProperty("parentMessageId").GetString());
        Assert.Equal("391", events.Single(e => e.GetProperty("type").GetString() == "TOOL_CALL_RESULT").GetProperty("content").GetString());

        var contents = events.Where(e => e.GetProperty("type").GetString() == "TEXT_MESSAGE_CONTENT").ToList();
        Assert.All(contents, c => Assert.Equal(final.MessageId, c.GetProperty("messageId").GetString()));
        Assert.All(contents, c => Assert.NotEmpty(c.GetProperty("delta").GetString()!));
        Assert.Equal(final.Text, string.Concat(contents.Select(c => c.GetProperty("delta").GetString())));
        Assert.Equal("success", events[^1].GetProperty("outcome").GetProperty("type").GetString());
        Assert.DoesNotContain(frames, f => f.Data!.Contains(":null", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AiSdk_answers_the_v1_stream_and_closes_with_done()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("ai-wire");
        var bob = await ChatClientSession(server, "bob");

        using var http = server.CreateHttpClient();
        using var request = Post("/api/ai-sdk/chat", bob,
            """{"id":"ai-wire","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"calculate 17*23"}]}],"trigger":"submit-message"}""");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("v1", response.Headers.GetValues("x-vercel-ai-ui-message-stream").Single());
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var frames = await ReadAllAsync(response);

        Assert.Equal("[DONE]", frames[^1].Data);
        var chunks = frames.SkipLast(1).Select(f => JsonDocument.Parse(f.Data!).RootElement).ToList();
        var types = chunks.Select(c => c.GetProperty("type").GetString()).Distinct().ToList();
        Assert.Equal(["start", "tool-input-available", "tool-output-available", "text-start", "text-delta", "text-end", "finish"], types);

        var generationId = chunks[0].GetProperty("messageMetadata").GetProperty("generationId").GetString()!;
        var final = await log.WaitForFinalAsync(generationId);
        Assert.Equal(final.MessageId, chunks[0].GetProperty("messageId").GetString());
        var input = chunks.Single(c => c.GetProperty("type").GetString() == "tool-input-available");
        Assert.Equal("calculator", input.GetProperty("toolName").GetString());
        Assert.Equal("17*23", input.GetProperty("input").GetProperty("expression").GetString());
        Assert.Equal("391", chunks.Single(c => c.GetProperty("type").GetString() == "tool-output-available").GetProperty("output").GetString());
        var text = string.Concat(chunks.Where(c => c.GetProperty("type").GetString() == "text-delta").Select(c => c.GetProperty("delta").GetString()));
        Assert.Equal(final.Text, text);
        Assert.Equal("stop", chunks[^1].GetProperty("finishReason").GetString());
    }

    [Fact]
    public async Task AiSdk_resume_starts_from_the_text_so_far_when_the_log_no_longer_reaches_the_reply_start()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Rooms:EventLogSize"] = "10",
            ["Chat:Offline:TokenDelayMs"] = "30",
            ["Chat:Offline:ReplyTokens"] = "300",
        });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("ai-resume-short-log");
        var reply = await alice.AskAsync("ai-resume-short-log", "a long answer please");
        await log.WaitForTokensAsync(reply.GenerationId, 20);

        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/ai-sdk/chat/ai-resume-short-log/stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", alice.Session!.Token);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var frames = await ReadAllAsync(response);
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        var chunks = frames.SkipLast(1).Select(f => JsonDocument.Parse(f.Data!).RootElement).ToList();
        Assert.Equal("start", chunks[0].GetProperty("type").GetString());
        Assert.Equal(final.MessageId, chunks[0].GetProperty("messageId").GetString());
        var text = string.Concat(chunks.Where(c => c.GetProperty("type").GetString() == "text-delta").Select(c => c.GetProperty("delta").GetString()));
        Assert.Equal(final.Text, text);
        Assert.Equal("finish", chunks[^1].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Both_routes_answer_the_message_rate_limit_with_429_naming_the_setting_and_the_room_goes_on()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Limits:MessagesPerMinute"] = "1" });
        var bob = await ChatClientSession(server, "bob");
        using var http = server.CreateHttpClient();
        const string agUi = """{"threadId":"limits","runId":"r","messages":[{"id":"u1","role":"user","content":"hello"}]}""";
        const string aiSdk = """{"id":"limits","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"hello"}]}],"trigger":"submit-message"}""";

        using (var first = await http.SendAsync(Post("/api/rooms/limits/agui", bob, agUi)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Contains("RUN_FINISHED", await first.Content.ReadAsStringAsync());
        }

        foreach (var (path, body) in new[] { ("/api/rooms/limits/agui", agUi), ("/api/ai-sdk/chat", aiSdk) })
        {
            using var refused = await http.SendAsync(Post(path, bob, body));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
            Assert.Contains("Chat:Limits:MessagesPerMinute", error);
        }

        // Another person in the same room is not limited by bob's rate.
        var carol = await ChatClientSession(server, "carol");
        using var other = await http.SendAsync(Post("/api/ai-sdk/chat", carol, aiSdk));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.EndsWith("data: [DONE]\n\n", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static async Task<SignalRChat.Contracts.GuestSession> ChatClientSession(ChatServer server, string name) =>
        await SignalRChat.Client.ChatClient.SignInAsGuestAsync(server.Url, name);

    private static HttpRequestMessage Post(string path, SignalRChat.Contracts.GuestSession session, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return request;
    }

    /// <summary>Every data frame until the response ends (it ends with the reply).</summary>
    private static async Task<List<SseFrame>> ReadAllAsync(HttpResponseMessage response)
    {
        await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var frames = new List<SseFrame>();
        while (await sse.NextAsync() is { } frame)
        {
            if (frame.Data is not null)
            {
                frames.Add(frame);
            }
        }

        return frames;
    }
}
