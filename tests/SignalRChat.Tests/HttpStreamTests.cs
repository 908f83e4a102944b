using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>The same rooms for clients that do not speak SignalR: SSE and NDJSON over plain HTTP.</summary>
public sealed class HttpStreamTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task Sse_starts_with_a_snapshot_then_streams_every_event_with_its_seq_as_id()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("sse");
        var carol = await ChatClient.SignInAsGuestAsync(server.Url, "carol");
        using var http = server.CreateHttpClient();

        // EventSource cannot set headers: the token goes in the query.
        using var response = await http.GetAsync($"/api/rooms/sse/events?access_token={carol.Token}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-cache", response.Headers.CacheControl?.ToString());
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());

        var retry = await sse.NextAsync();
        Assert.Equal(2000, retry?.Retry);
        var snapshotFrame = (await sse.ReadUntilAsync(f => f.Event == "snapshot")).Last();
        var snapshot = JsonSerializer.Deserialize<RoomSnapshot>(snapshotFrame.Data!, Json)!;
        Assert.Equal(snapshot.LastSeq.ToString(), snapshotFrame.Id);
        Assert.Contains(snapshot.Members, m => m.Name == "carol");
        await aliceLog.WaitForAsync(e => e is PresenceEvent { Name: "carol", State: PresenceStates.Joined });

        var reply = await alice.AskAsync("sse", "hello http");
        var frames = await sse.ReadUntilAsync(f => f.Event == "status" && f.Data!.Contains("\"completed\""));
        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);

        AssertContiguous(frames, snapshot.LastSeq);
        Assert.Equal(final.Seq.ToString(), frames[^1].Id);
        Assert.Equal(["message", "message", "status", "status", "token"], frames.Take(5).Select(f => f.Event));
        var text = string.Concat(frames.Where(f => f.Event == "token").Select(f => JsonSerializer.Deserialize<TokenEvent>(f.Data!, Json)!.Text));
        Assert.Equal(final.Text, text);
        Assert.Equal(final.Text, JsonSerializer.Deserialize<StatusEvent>(frames[^1].Data!, Json)!.Text);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Sse_with_Last_Event_ID_picks_up_exactly_after_that_seq(bool asHeader)
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("sse-resume");
        var reply = await alice.AskAsync("sse-resume", "some text please");
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        var tokens = log.Events.OfType<TokenEvent>().ToList();
        var after = tokens[5].Seq;

        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, asHeader ? "/api/rooms/sse-resume/events" : $"/api/rooms/sse-resume/events?lastEventId={after}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", alice.Session!.Token);
        if (asHeader)
        {
            request.Headers.Add("Last-Event-ID", after.ToString());
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var frames = await sse.ReadUntilAsync(f => f.Id == final.Seq.ToString());

        Assert.DoesNotContain(frames, f => f.Event == "snapshot");
        AssertContiguous(frames, after);
        var rest = string.Concat(frames.Where(f => f.Event == "token").Select(f => JsonSerializer.Deserialize<TokenEvent>(f.Data!, Json)!.Text));
        Assert.Equal(final.Text, string.Concat(tokens.Where(t => t.Seq <= after).Select(t => t.Text)) + rest);
    }

    // A reader that lags gets token deltas joined into one event: its id is the last seq, firstSeq the first.
    private static void AssertContiguous(IEnumerable<SseFrame> frames, long afterSeq)
    {
        var expected = afterSeq + 1;
        foreach (var frame in frames)
        {
            var id = long.Parse(frame.Id!);
            var first = frame.Event == "token" ? JsonSerializer.Deserialize<TokenEvent>(frame.Data!, Json)!.FirstCoveredSeq : id;
            Assert.Equal(expected, first);
            expected = id + 1;
        }
    }

    [Fact]
    public async Task Sse_sends_a_keep_alive_comment_when_the_room_is_quiet()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Streams:KeepAlive"] = "00:00:00.2" });
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "quiet");
        using var http = server.CreateHttpClient();
        using var response = await http.GetAsync($"/api/rooms/quiet/events?access_token={session.Token}", HttpCompletionOption.ResponseHeadersRead);
        await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());

        var frames = new List<SseFrame>();
        SseFrame? frame;
        do
        {
            frame = await sse.NextAsync();
            frames.Add(frame!);
        }
        while (frame?.Comment is null);

        Assert.Equal("keep-alive", frame!.Comment);
    }

    [Theory]
    [InlineData("/api/rooms/bad%20room/events", HttpStatusCode.BadRequest, "invalid room id")]
    [InlineData("/api/rooms/fine/events?lastEventId=-3", HttpStatusCode.BadRequest, "Last-Event-ID")]
    [InlineData("/api/rooms/fine/events?lastEventId=abc", HttpStatusCode.BadRequest, "Last-Event-ID")]
    public async Task Sse_refuses_bad_requests_clearly(string path, HttpStatusCode status, string reason)
    {
        await using var server = await ChatServer.StartAsync();
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "alice");
        using var http = server.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);

        var response = await http.GetAsync(path);

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(reason, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Room_endpoints_need_a_token()
    {
        await using var server = await ChatServer.StartAsync();
        using var http = server.CreateHttpClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/rooms/r/events")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("/api/rooms/r/messages", new { text = "hi" })).StatusCode);
    }

    [Fact]
    public async Task Posting_a_message_without_ndjson_answers_its_ids_and_the_reply_reaches_the_room()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("post");
        var bot = await ChatClient.SignInAsGuestAsync(server.Url, "curl-user");
        using var http = server.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bot.Token);

        var response = await http.PostAsJsonAsync("/api/rooms/post/messages", new { text = "from curl" });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var sent = await response.Content.ReadFromJsonAsync<SendMessageResult>();
        Assert.NotNull(sent);
        await log.WaitForAsync(e => e is MessageEvent { Message.Text: "from curl", Message.AuthorName: "curl-user" });
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(sent.GenerationId!)).State);

        var bad = await http.PostAsJsonAsync("/api/rooms/post/messages", new { text = "" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("empty", await bad.Content.ReadAsStringAsync());
        var tooLong = await http.PostAsJsonAsync("/api/rooms/post/messages", new { text = new string('x', 16_001) });
        Assert.Contains("Chat:Limits:MaxMessageChars", await tooLong.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Posting_with_ndjson_streams_the_reply_as_lines_until_it_ends()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("ndjson");
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "fetcher");
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/rooms/ndjson/messages") { Content = JsonContent.Create(new { text = "calculate 6*7" }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var lines = new List<JsonElement>();
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.Length > 0)
                {
                    lines.Add(JsonSerializer.Deserialize<JsonElement>(line));
                }
            }
        }

        Assert.Equal("accepted", lines[0].GetProperty("event").GetString());
        var generationId = lines[0].GetProperty("data").GetProperty("generationId").GetString()!;
        var final = await log.WaitForFinalAsync(generationId);
        var events = lines.Skip(1).Select(l => l.GetProperty("event").GetString()).ToList();
        Assert.Equal(["message", "message", "status"], events.Take(3));
        Assert.Contains("toolProgress", events);
        Assert.Equal("status", events[^1]);
        var last = lines[^1].GetProperty("data");
        Assert.Equal(GenerationStates.Completed, last.GetProperty("state").GetString());
        Assert.Equal(final.Text, last.GetProperty("text").GetString());
        var streamed = string.Concat(lines.Where(l => l.GetProperty("event").GetString() == "token").Select(l => l.GetProperty("data").GetProperty("text").GetString()));
        Assert.Equal(final.Text, streamed);
        Assert.Contains("6*7 = 42", streamed);
        var seqs = lines.Skip(1).Select(l => l.GetProperty("data").GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(seqs.Order(), seqs);
    }

    [Fact]
    public async Task Aborting_the_ndjson_request_stops_the_reply_for_every_member()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Offline:TokenDelayMs"] = "10", ["Chat:Offline:ReplyTokens"] = "3000" });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("abort");
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "fetcher");
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/rooms/abort/messages") { Content = JsonContent.Create(new { text = "a very long reply" }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        using var abort = new CancellationTokenSource();

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, abort.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(abort.Token));
        var accepted = JsonSerializer.Deserialize<JsonElement>((await reader.ReadLineAsync(abort.Token))!);
        var generationId = accepted.GetProperty("data").GetProperty("generationId").GetString()!;
        await log.WaitForTokensAsync(generationId, 5);
        abort.Cancel();
        response.Dispose();

        var final = await log.WaitForFinalAsync(generationId);
        Assert.Equal(GenerationStates.Cancelled, final.State);
        Assert.Equal(final.Text, log.TextOf(generationId));
    }

    [Fact]
    public async Task Plain_http_cannot_post_into_a_private_room_it_was_not_invited_to()
    {
        await using var server = await ChatServer.StartAsync();
        var owner = await server.ConnectAsync("owner");
        await owner.CreateRoomAsync("secret", RoomVisibility.Private);
        var outsider = await ChatClient.SignInAsGuestAsync(server.Url, "outsider");
        using var http = server.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", outsider.Token);

        var post = await http.PostAsJsonAsync("/api/rooms/secret/messages", new { text = "let me in" });
        var read = await http.GetAsync("/api/rooms/secret/events");

        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Contains("private", await post.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, read.StatusCode);
    }
}
