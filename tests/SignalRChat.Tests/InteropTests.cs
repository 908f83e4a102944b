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
        var carol = await ChatClientSession(server, "carol");

        // Carol reads the room over SSE.
        using var http = server.CreateHttpClient();
        using var roomEvents = new HttpRequestMessage(HttpMethod.Get, "/api/rooms/agui-wire/events");
        roomEvents.Headers.Authorization = new AuthenticationHeaderValue("Bearer", carol.Token);
        using var carolStream = await http.SendAsync(roomEvents, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, carolStream.StatusCode);
        await using var carolSse = new SseReader(await carolStream.Content.ReadAsStreamAsync());
        Assert.NotNull((await carolSse.NextAsync())?.Retry);
        Assert.Equal("snapshot", (await carolSse.NextAsync())?.Event);

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

        // The SSE reader saw the same reply: the same text, the same tool result, under the same seqs.
        var seen = new List<SseFrame>();
        while (await carolSse.NextAsync() is { } frame)
        {
            if (frame.Event is null)
            {
                continue;
            }

            seen.Add(frame);
            if (frame.Event == "status" && JsonDocument.Parse(frame.Data!).RootElement is var status
                && status.GetProperty("generationId").GetString() == runId && status.GetProperty("state").GetString() == GenerationStates.Completed)
            {
                break;
            }
        }

        string Field(SseFrame f, string name) => JsonDocument.Parse(f.Data!).RootElement.GetProperty(name).GetString()!;
        Assert.Equal(final.Text, string.Concat(seen.Where(f => f.Event == "token").Select(f => Field(f, "text"))));
        Assert.Equal("391", Field(seen.Single(f => f.Event == "toolProgress" && Field(f, "phase") == ToolPhases.Completed), "detail"));
        Assert.Equal(final.Seq, long.Parse(seen[^1].Id!));
        // A room reader that fell behind gets deltas joined (firstSeq..seq in one frame): every seq it covered counts.
        var covered = new HashSet<long>();
        foreach (var f in seen)
        {
            var seq = long.Parse(f.Id!);
            var from = f.Event == "token" && JsonDocument.Parse(f.Data!).RootElement.TryGetProperty("firstSeq", out var firstSeq) ? firstSeq.GetInt64() : seq;
            for (var s = from; s <= seq; s++)
            {
                covered.Add(s);
            }
        }

        Assert.Subset(covered, seqs.ToHashSet());
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

    [Fact]
    public async Task A_reply_that_waits_keeps_all_three_streams_open_with_comment_lines()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Streams:KeepAlive"] = "00:00:00.100" });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("agui-wait");
        var bob = await ChatClientSession(server, "bob");
        using var http = server.CreateHttpClient();

        var requests = new (string Name, Func<HttpRequestMessage> Request)[]
        {
            ("AG-UI", () => Post("/api/rooms/agui-wait/agui", bob, """{"threadId":"agui-wait","messages":[{"id":"u1","role":"user","content":"please set the topic to Waiting"}]}""")),
            ("AI SDK", () => Post("/api/ai-sdk/chat", bob, """{"id":"agui-wait","messages":[{"id":"u2","role":"user","parts":[{"type":"text","text":"please set the topic to Waiting again"}]}],"trigger":"submit-message"}""")),
        };
        foreach (var (name, request) in requests)
        {
            using var response = await http.SendAsync(request(), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());

            // The reply waits for a member's approval: the stream has said it started, then only comments come.
            var first = JsonDocument.Parse((await sse.NextAsync())!.Data!).RootElement;
            Assert.Equal(name == "AG-UI" ? "RUN_STARTED" : "start", first.GetProperty("type").GetString());
            var generationId = name == "AG-UI" ? first.GetProperty("runId").GetString() : first.GetProperty("messageMetadata").GetProperty("generationId").GetString();
            var pending = (ToolApprovalEvent)await log.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending } a && a.GenerationId == generationId);
            Assert.Equal("keep-alive", (await NextCommentAsync(sse)).Comment);

            // A resume of the same reply, while it waits, gets comments too.
            if (name == "AI SDK")
            {
                using var resume = new HttpRequestMessage(HttpMethod.Get, "/api/ai-sdk/chat/agui-wait/stream");
                resume.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bob.Token);
                using var resumed = await http.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
                await using var resumedSse = new SseReader(await resumed.Content.ReadAsStreamAsync());
                Assert.Contains("\"start\"", (await resumedSse.NextAsync())!.Data!, StringComparison.Ordinal);
                Assert.Equal("keep-alive", (await NextCommentAsync(resumedSse)).Comment);
            }

            Assert.True(await alice.DecideToolCallAsync(pending.ApprovalId, approve: true));
            var rest = new List<string>();
            while (await sse.NextAsync() is { } frame)
            {
                if (frame.Data is not null)
                {
                    rest.Add(frame.Data);
                }
            }

            Assert.Contains(rest, d => d.Contains(name == "AG-UI" ? "\"RUN_FINISHED\"" : "\"finish\"", StringComparison.Ordinal));
            await log.WaitForFinalAsync(pending.GenerationId);
        }
    }

    [Fact]
    public async Task The_interop_streams_count_toward_the_streams_one_client_address_may_hold()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Streams:MaxPerAddress"] = "2" });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("agui-slots");
        var bob = await ChatClientSession(server, "bob");
        var carol = await ChatClientSession(server, "carol");
        using var http = server.CreateHttpClient();
        const string aiSdk = """{"id":"agui-slots","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"hello"}]}],"trigger":"submit-message"}""";

        // Two streams open from this address: an AG-UI run whose reply waits for approval, and an SSE reader.
        using var run = await http.SendAsync(Post("/api/rooms/agui-slots/agui", bob, """{"threadId":"agui-slots","messages":[{"id":"u1","role":"user","content":"please set the topic to Slots"}]}"""),
            HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, run.StatusCode);
        await using var runSse = new SseReader(await run.Content.ReadAsStreamAsync());
        Assert.Contains("RUN_STARTED", (await runSse.NextAsync())!.Data!, StringComparison.Ordinal);
        using var events = new HttpRequestMessage(HttpMethod.Get, "/api/rooms/agui-slots/events");
        events.Headers.Authorization = new AuthenticationHeaderValue("Bearer", carol.Token);
        using var sse = await http.SendAsync(events, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);

        // A third is refused on each route, before anything is posted.
        using var resume = new HttpRequestMessage(HttpMethod.Get, "/api/ai-sdk/chat/agui-slots/stream");
        resume.Headers.Authorization = new AuthenticationHeaderValue("Bearer", carol.Token);
        foreach (var refused in new[]
                 {
                     await http.SendAsync(Post("/api/rooms/agui-slots/agui", carol, """{"threadId":"agui-slots","messages":[{"id":"u1","role":"user","content":"me too"}]}""")),
                     await http.SendAsync(Post("/api/ai-sdk/chat", carol, aiSdk)),
                     await http.SendAsync(resume),
                 })
        {
            using (refused)
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
                Assert.Contains("2 open streams per client address (Chat:Streams:MaxPerAddress)", await refused.Content.ReadAsStringAsync());
            }
        }

        // The run's stream ends with its reply and frees its place.
        var pending = (ToolApprovalEvent)await log.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });
        Assert.True(await alice.DecideToolCallAsync(pending.ApprovalId, approve: false));
        var rest = await ReadAllAsync(run);
        Assert.Contains("RUN_FINISHED", rest[^1].Data!, StringComparison.Ordinal);
        using var now = await http.SendAsync(Post("/api/ai-sdk/chat", carol, aiSdk));
        Assert.Equal(HttpStatusCode.OK, now.StatusCode);
        Assert.EndsWith("data: [DONE]\n\n", await now.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(["please set the topic to Slots", "hello"], log.Events.OfType<MessageEvent>().Where(m => m.Message.Role == MessageRoles.User).Select(m => m.Message.Text));
    }

    [Fact]
    public async Task Bodies_past_the_size_limit_are_refused_naming_the_setting_and_a_long_conversation_under_it_posts_only_its_last_user_message()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("agui-big");
        var bob = await ChatClientSession(server, "bob");
        using var http = server.CreateHttpClient();

        // Past Chat:Interop:MaxRequestBytes (4 MiB): refused before any of it is parsed.
        var filler = new string('x', 4096);
        var huge = string.Join(",", Enumerable.Range(0, 1100).Select(i => $$"""{"id":"m{{i}}","role":"user","content":"{{filler}}"}"""));
        var hugeParts = string.Join(",", Enumerable.Range(0, 1100).Select(i => $$"""{"id":"m{{i}}","role":"user","parts":[{"type":"text","text":"{{filler}}"}]}"""));
        foreach (var (path, body) in new[]
                 {
                     ("/api/rooms/agui-big/agui", $$"""{"threadId":"agui-big","messages":[{{huge}}]}"""),
                     ("/api/ai-sdk/chat", $$"""{"id":"agui-big","messages":[{{hugeParts}}],"trigger":"submit-message"}"""),
                 })
        {
            Assert.True(Encoding.UTF8.GetByteCount(body) > 4 * 1024 * 1024);
            using var refused = await http.SendAsync(Post(path, bob, body));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("larger than 4194304 bytes (Chat:Interop:MaxRequestBytes)", await refused.Content.ReadAsStringAsync());
        }

        // A client's long copy of the conversation (20,000 messages) under the limit: only the last user message is posted.
        var history = string.Join(",", Enumerable.Range(0, 20_000).Select(i => $$"""{"id":"h{{i}}","role":"{{(i % 2 == 0 ? "user" : "assistant")}}","content":"turn {{i}}"}"""));
        using var accepted = await http.SendAsync(Post("/api/rooms/agui-big/agui", bob,
            $$"""{"threadId":"agui-big","messages":[{{history}},{"id":"last","role":"user","content":"the last one"},{"id":"a","role":"assistant","content":"not this"}]}"""));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Contains("RUN_FINISHED", await accepted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(["the last one"], log.Events.OfType<MessageEvent>().Where(m => m.Message.Role == MessageRoles.User).Select(m => m.Message.Text));
    }

    [Fact]
    public async Task An_attackers_bodies_are_refused_clearly_and_touch_no_other_room()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("attack-other");
        var other = await alice.AskAsync("attack-other", "hello");
        var otherFinal = await log.WaitForFinalAsync(other.GenerationId);
        var mallory = await ChatClientSession(server, "mallory");
        using var http = server.CreateHttpClient();

        // Mallory starts a room of her own, to have a reply there to regenerate.
        using (var own = await http.SendAsync(Post("/api/ai-sdk/chat", mallory, """{"id":"attack-own","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"hi"}]}]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
            await own.Content.ReadAsStringAsync();
        }

        var cases = new (string Path, string Body, HttpStatusCode Status, string Error)[]
        {
            // Only images, files or data: a room takes text.
            ("/api/rooms/attack-own/agui", """{"threadId":"attack-own","messages":[{"id":"u1","role":"user","content":[{"type":"binary","mimeType":"image/png","data":"AAAA"}]}]}""",
                HttpStatusCode.BadRequest, "no text part in content"),
            ("/api/ai-sdk/chat", """{"id":"attack-own","messages":[{"id":"u1","role":"user","parts":[{"type":"file","mediaType":"image/png","url":"data:image/png;base64,AAAA"}]}]}""",
                HttpStatusCode.BadRequest, "no text part in parts"),
            ("/api/ai-sdk/chat", """{"id":"attack-own","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":42}]}]}""", HttpStatusCode.BadRequest, "parts[].text must be a string"),
            ("/api/ai-sdk/chat", """{"id":"attack-own","messages":[{"id":"a1","role":"assistant","parts":[{"type":"text","text":"hi"}]}]}""", HttpStatusCode.BadRequest, "no user message"),
            ("/api/ai-sdk/chat", """{"id":"attack-own","messages":"hi"}""", HttpStatusCode.BadRequest, "messages must be an array"),
            ("/api/ai-sdk/chat", """{"id":["attack-own"],"messages":[]}""", HttpStatusCode.BadRequest, "id must be a string"),
            // A thread that names another room than the route's.
            ("/api/rooms/attack-own/agui", """{"threadId":"attack-other","messages":[{"id":"u1","role":"user","content":"hi"}]}""", HttpStatusCode.BadRequest, "is not this room"),
            // Regenerating a reply of a room she is not in, from her own room or from that room.
            ("/api/ai-sdk/chat", $$"""{"id":"attack-own","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"hi"}]}],"trigger":"regenerate-message","messageId":"{{otherFinal.MessageId}}"}""",
                HttpStatusCode.NotFound, $"no message '{otherFinal.MessageId}' in room 'attack-own'"),
            ("/api/ai-sdk/chat", $$"""{"id":"attack-other","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"hi"}]}],"trigger":"regenerate-message","messageId":"{{otherFinal.MessageId}}"}""",
                HttpStatusCode.Forbidden, "regenerate replies in"),
            ("/api/ai-sdk/chat", """{"id":"attack-own","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"hi"}]}],"trigger":"regenerate-message","messageId":{"$ne":null}}""",
                HttpStatusCode.BadRequest, "messageId must be a string"),
            ("/api/rooms/attack-own/agui", """{"threadId":"attack-own","messages":[{"id":"u1","role":"user","content":"\u0000hi"}]}""", HttpStatusCode.BadRequest, "control character"),
        };
        foreach (var (path, body, status, error) in cases)
        {
            using var refused = await http.SendAsync(Post(path, mallory, body));
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(status == refused.StatusCode, $"{body}: {refused.StatusCode} {text}");
            Assert.Contains(error, JsonDocument.Parse(text).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        // The resume stream needs the token too, and a room id that is one.
        using (var noToken = await http.GetAsync("/api/ai-sdk/chat/attack-own/stream"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        }

        using (var badRoom = new HttpRequestMessage(HttpMethod.Get, "/api/ai-sdk/chat/no%20spaces/stream"))
        {
            badRoom.Headers.Authorization = new AuthenticationHeaderValue("Bearer", mallory.Token);
            using var answered = await http.SendAsync(badRoom);
            Assert.Equal(HttpStatusCode.BadRequest, answered.StatusCode);
        }

        // The other room saw nothing of it, and Mallory's connection and room still work.
        Assert.Single(log.Events.OfType<MessageEvent>(), m => m.Message.Role == MessageRoles.User);
        Assert.DoesNotContain(log.Events, e => e is StatusEvent s && s.GenerationId != other.GenerationId);
        using var fine = await http.SendAsync(Post("/api/rooms/attack-own/agui", mallory, """{"threadId":"attack-own","messages":[{"id":"u1","role":"user","content":[{"type":"text","text":"still "},{"type":"binary","mimeType":"image/png","data":"AAAA"},{"type":"text","text":"here"}]}]}"""));
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        Assert.Contains("RUN_FINISHED", await fine.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static async Task<SseFrame> NextCommentAsync(SseReader sse)
    {
        while (await sse.NextAsync() is { } frame)
        {
            if (frame.Comment is not null)
            {
                return frame;
            }

            Assert.Fail($"expected only comments while the reply waits, got {frame.Data}");
        }

        throw new InvalidOperationException("the stream ended while the reply waited");
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
