using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Storage;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Rooms and messages that outlive the server: restarts, a crash mid-reply, paging, room lists and read marks, on every record.</summary>
public sealed class DurableRoomTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IDisposable
{
    private const string SigningKey = "a-durable-signing-key-of-more-than-32-bytes";
    private readonly RecordBackends _backends = new(postgres);

    private async Task<Dictionary<string, string?>> SettingsAsync(string backend, int replyTokens = 4) => new(await _backends.SettingsAsync(backend))
    {
        ["Chat:Auth:SigningKey"] = SigningKey,
        ["Chat:Offline:ReplyTokens"] = replyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Chat:Limits:MessagesPerMinute"] = "1000",
        ["Chat:Limits:MaxQueuedGenerationsPerRoom"] = "100",
    };

    [Theory]
    [MemberData(nameof(RecordBackends.Durable), MemberType = typeof(RecordBackends))]
    public async Task After_a_restart_every_room_message_member_and_invitation_is_back_and_private_rooms_stay_private(string backend)
    {
        var settings = await SettingsAsync(backend);
        GuestSession aliceSession, bobSession;
        long lastSeq;
        List<ChatMessage> before;
        await using (var first = await ChatServer.StartAsync(settings))
        {
            var alice = await first.ConnectAsync("alice");
            var bob = await first.ConnectAsync("bob");
            aliceSession = alice.Session!;
            bobSession = bob.Session!;
            await alice.CreateRoomAsync("plans", RoomVisibility.Private);
            await alice.InviteToRoomAsync("plans", bobSession.UserId);
            for (var i = 1; i <= 3; i++)
            {
                var reply = await alice.AskAsync("plans", $"question {i}");
                Assert.Equal(GenerationStates.Completed, (await reply.Completion.WaitAsync(EventLog.DefaultTimeout)).State);
            }

            await alice.JoinRoomAsync("public-square");
            var snapshot = await alice.JoinRoomAsync("plans");
            before = [.. snapshot.Messages];
            lastSeq = snapshot.LastSeq;
        }

        await using var second = await ChatServer.StartAsync(settings);
        await using var aliceAgain = await ReconnectAsync(second, aliceSession);
        // A client that resumes where it was gets reset: the new server does not have the old stream's events.
        Assert.True((await aliceAgain.ResumeAsync("plans", lastSeq)).Reset);
        var restored = await aliceAgain.JoinRoomAsync("plans");
        Assert.Equal(before.Select(m => (m.MessageId, m.Seq, m.Role, m.Text, m.State, m.AuthorName)),
            restored.Messages.Select(m => (m.MessageId, m.Seq, m.Role, m.Text, m.State, m.AuthorName)));
        Assert.Equal(6, restored.Messages.Count);
        Assert.True(restored.LastSeq > lastSeq);
        Assert.False(restored.HasMore);

        // Still private: the invited member may come in, a stranger may not.
        var mallory = await second.ConnectAsync("mallory");
        Assert.Contains("room 'plans' is private", (await Assert.ThrowsAsync<HubException>(() => mallory.JoinRoomAsync("plans"))).Message);
        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => mallory.CreateRoomAsync("plans", RoomVisibility.Public))).Message);
        await using var bobAgain = await ReconnectAsync(second, bobSession);
        Assert.Equal(6, (await bobAgain.JoinRoomAsync("plans")).Messages.Count);

        // Seq goes on above everything stored.
        var sent = await aliceAgain.SendMessageAsync("plans", "after the restart");
        var after = (await aliceAgain.GetHistoryAsync("plans", 0, 200)).Messages;
        Assert.True(after.Single(m => m.MessageId == sent.MessageId).Seq > lastSeq);
        Assert.Equal(["plans", "public-square"], (await aliceAgain.ListRoomsAsync()).Select(r => r.RoomId).Order());
    }

    [Theory]
    [MemberData(nameof(RecordBackends.Durable), MemberType = typeof(RecordBackends))]
    public async Task In_a_mentioned_room_messages_that_start_no_reply_are_stored_and_reach_the_members_room_lists(string backend)
    {
        var settings = await SettingsAsync(backend);
        GuestSession aliceSession;
        string[] said;
        await using (var first = await ChatServer.StartAsync(settings))
        {
            var alice = await first.ConnectAsync("alice");
            var bob = await first.ConnectAsync("bob");
            aliceSession = alice.Session!;
            await using var bobPhone = await ReconnectAsync(first, bob.Session!);
            await alice.JoinRoomAsync("chatter");
            await bob.JoinRoomAsync("chatter");
            await alice.UpdateRoomSettingsAsync("chatter", new RoomSettingsUpdate(Assistant: AssistantModes.Mentioned));

            var activity = Watch<RoomActivityEvent>(h => bobPhone.RoomActivityReceived += h);
            var hello = await alice.SendMessageAsync("chatter", "hi bob");
            var again = await alice.SendMessageAsync("chatter", "are you there?");
            Assert.Null(hello.GenerationId);
            Assert.Null(again.GenerationId);
            var seen = await activity.WaitAsync(e => e.RoomId == "chatter" && e.LastMessage.Text == "are you there?");
            Assert.Equal("alice", seen.LastMessage.AuthorName);
            Assert.Equal(2, seen.Unread);
            var listed = (await bobPhone.ListRoomsAsync()).Single(r => r.RoomId == "chatter");
            Assert.Equal("are you there?", listed.LastMessage!.Text);
            Assert.Equal(2, listed.Unread);
            said = ["hi bob", "are you there?"];
        }

        // After a restart the conversation is there, read from the record.
        await using var second = await ChatServer.StartAsync(settings);
        await using var aliceAgain = await ReconnectAsync(second, aliceSession);
        var history = await aliceAgain.GetHistoryAsync("chatter", 0, 200);
        Assert.Equal(said, history.Messages.Where(m => m.Role == MessageRoles.User).Select(m => m.Text));
        Assert.DoesNotContain(history.Messages, m => m.Role == MessageRoles.Assistant);
    }

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task Paging_back_through_the_hub_and_http_returns_every_message_exactly_once_in_order(string backend)
    {
        await using var server = await ChatServer.StartAsync(await SettingsAsync(backend, replyTokens: 2));
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("long");
        var sent = new List<SendMessageResult>();
        for (var i = 1; i <= 60; i++)
        {
            sent.Add(await alice.SendMessageAsync("long", $"message {i}"));
        }

        await log.WaitForFinalAsync(sent[^1].GenerationId!, TimeSpan.FromSeconds(60));
        var all = new List<ChatMessage>();
        long beforeSeq = 0;
        while (true)
        {
            var page = await alice.GetHistoryAsync("long", beforeSeq, 7);
            all.InsertRange(0, page.Messages);
            if (!page.HasMore)
            {
                break;
            }

            beforeSeq = page.Messages[0].Seq;
        }

        Assert.Equal(120, all.Count);
        Assert.Equal(all.Count, all.Select(m => m.MessageId).Distinct().Count());
        Assert.Equal(all.OrderBy(m => m.Seq).Select(m => m.Seq), all.Select(m => m.Seq));
        Assert.Equal(sent.Select(s => s.MessageId), all.Where(m => m.Role == MessageRoles.User).Select(m => m.MessageId));
        Assert.All(all.Where(m => m.Role == MessageRoles.Assistant), m => Assert.Equal(MessageStates.Completed, m.State));
        Assert.True((await alice.JoinRoomAsync("long")).HasMore);

        using var http = server.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", alice.AccessToken);
        var viaHttp = await http.GetFromJsonAsync<HistoryPage>($"/api/rooms/long/messages?before={all[10].Seq}&limit=5");
        Assert.Equal(all.Skip(5).Take(5).Select(m => m.MessageId), viaHttp!.Messages.Select(m => m.MessageId));
        Assert.True(viaHttp.HasMore);
        var newest = await http.GetFromJsonAsync<HistoryPage>("/api/rooms/long/messages");
        Assert.Equal(all.TakeLast(50).Select(m => m.MessageId), newest!.Messages.Select(m => m.MessageId));

        // Bad pages are refused with the rule; strangers to a room read nothing of it.
        Assert.Contains("limit must be 1 to 200", (await Assert.ThrowsAsync<HubException>(() => alice.GetHistoryAsync("long", 0, 201))).Message);
        Assert.Contains("limit must be 1 to 200", (await Assert.ThrowsAsync<HubException>(() => alice.GetHistoryAsync("long", 0, 0))).Message);
        Assert.Contains("beforeSeq must be", (await Assert.ThrowsAsync<HubException>(() => alice.GetHistoryAsync("long", -1, 5))).Message);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/api/rooms/long/messages?before=abc")).StatusCode);
        var mallory = await server.ConnectAsync("mallory");
        Assert.Contains("join room 'long'", (await Assert.ThrowsAsync<HubException>(() => mallory.GetHistoryAsync("long", 0, 5))).Message);
        using var strangerHttp = server.CreateHttpClient();
        strangerHttp.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", mallory.AccessToken);
        Assert.Equal(HttpStatusCode.Forbidden, (await strangerHttp.GetAsync("/api/rooms/long/messages")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.CreateHttpClient().GetAsync("/api/rooms")).StatusCode);
        Assert.Equal(Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Connected, alice.State);
    }

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task Each_person_sees_their_own_rooms_with_unread_counts_that_reading_on_another_device_clears(string backend)
    {
        await using var server = await ChatServer.StartAsync(await SettingsAsync(backend));
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        await using var bobPhone = await ReconnectAsync(server, bob.Session!);
        var mallory = await server.ConnectAsync("mallory");
        var invited = Watch<InvitedEvent>(h => bobPhone.InvitedReceived += h);
        await alice.CreateRoomAsync("team", RoomVisibility.Private);
        await alice.InviteToRoomAsync("team", bob.Session!.UserId);
        var invitation = await invited.WaitAsync(e => e.RoomId == "team");
        Assert.Equal(new InvitedEvent("team", RoomVisibility.Private, new RoomMember(alice.Session!.UserId, "alice")), invitation);

        await bob.JoinRoomAsync("lobby");
        await alice.JoinRoomAsync("lobby");
        // The lobby's conversation ends before the team's starts, so the team's is the most recent activity.
        await (await alice.AskAsync("lobby", "hello everyone")).Completion.WaitAsync(EventLog.DefaultTimeout);
        var activity = Watch<RoomActivityEvent>(h => bobPhone.RoomActivityReceived += h);
        var reply = await alice.AskAsync("team", "bob, look at this");
        await reply.Completion.WaitAsync(EventLog.DefaultTimeout);
        var seen = await activity.WaitAsync(e => e.RoomId == "team" && e.LastMessage.AuthorName == "Assistant");
        Assert.Equal(2, seen.Unread);

        var bobRooms = await bobPhone.ListRoomsAsync();
        Assert.Equal(["team", "lobby"], bobRooms.Select(r => r.RoomId));
        Assert.Equal(2, bobRooms[0].Unread);
        Assert.Equal(RoomVisibility.Private, bobRooms[0].Visibility);
        Assert.Equal("Assistant", bobRooms[0].LastMessage!.AuthorName);
        Assert.Equal(1, bobRooms[0].MemberCount);
        Assert.Equal("lobby", bobRooms[1].RoomId);
        Assert.Equal(2, bobRooms[1].MemberCount);
        Assert.Equal(["team", "lobby"], (await alice.ListRoomsAsync()).Select(r => r.RoomId));
        // Her own messages are not unread to alice; the assistant's answers are, until she marks them read.
        Assert.Equal([1, 1], (await alice.ListRoomsAsync()).Select(r => r.Unread));
        Assert.Empty(await mallory.ListRoomsAsync());

        // Bob reads the room on his laptop: his phone hears of it and the count is gone.
        var marks = Watch<ReadMarkEvent>(h => bobPhone.ReadMarkReceived += h);
        var snapshot = await bob.JoinRoomAsync("team");
        await bob.MarkReadAsync("team", snapshot.LastSeq);
        Assert.Equal(snapshot.LastSeq, (await marks.WaitAsync(e => e.RoomId == "team")).Seq);
        Assert.Equal(0, (await bobPhone.ListRoomsAsync())[0].Unread);
        // Never backwards.
        await bob.MarkReadAsync("team", 1);
        Assert.Equal(0, (await bobPhone.ListRoomsAsync()).Single(r => r.RoomId == "team").Unread);
        Assert.Equal(2, (await bobPhone.ListRoomsAsync()).Single(r => r.RoomId == "team").MemberCount);

        using var http = server.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bobPhone.AccessToken);
        Assert.Equal(["team", "lobby"], (await http.GetFromJsonAsync<List<RoomSummary>>("/api/rooms"))!.Select(r => r.RoomId));
        Assert.Contains("join room 'team'", (await Assert.ThrowsAsync<HubException>(() => mallory.MarkReadAsync("team", 5))).Message);
        Assert.Contains("seq must be 0 or more", (await Assert.ThrowsAsync<HubException>(() => bob.MarkReadAsync("team", -1))).Message);
    }

    [Fact]
    public async Task An_invitation_and_unread_counts_reach_the_invitees_other_device_on_the_other_node()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(await SettingsAsync(RecordBackends.Postgres));
        foreach (var (key, value) in redis.NodeSettings(SigningKey))
        {
            settings[key] = value;
        }

        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var bobLaptop = await nodeA.ConnectAsync("bob");
        await using var bobPhone = await ReconnectAsync(nodeB, bobLaptop.Session!);
        var invited = Watch<InvitedEvent>(h => bobPhone.InvitedReceived += h);
        var activity = Watch<RoomActivityEvent>(h => bobPhone.RoomActivityReceived += h);
        var marks = Watch<ReadMarkEvent>(h => bobPhone.ReadMarkReceived += h);

        await alice.CreateRoomAsync("across", RoomVisibility.Private);
        await alice.InviteToRoomAsync("across", bobLaptop.Session!.UserId);
        Assert.Equal("alice", (await invited.WaitAsync(e => e.RoomId == "across")).InvitedBy.Name);

        var sent = await alice.SendMessageAsync("across", "see you on the other node");
        var news = await activity.WaitAsync(e => e.RoomId == "across" && e.LastMessage.Text == "see you on the other node");
        // The message, and the reply to it when that has started by the time the count is taken.
        Assert.InRange(news.Unread, 1, 2);
        Assert.Equal("alice", news.LastMessage.AuthorName);
        var listed = Assert.Single(await bobPhone.ListRoomsAsync());
        Assert.Equal("across", listed.RoomId);
        Assert.True(listed.Unread >= 1);

        // Read on the laptop (node A): the phone (node B) hears it, and its list shows nothing unread.
        var snapshot = await bobLaptop.JoinRoomAsync("across");
        Assert.Contains(snapshot.Messages, m => m.MessageId == sent.MessageId);
        await bobLaptop.MarkReadAsync("across", snapshot.LastSeq + 100_000);
        Assert.Equal(snapshot.LastSeq + 100_000, (await marks.WaitAsync(e => e.RoomId == "across")).Seq);
        Assert.Equal(0, Assert.Single(await bobPhone.ListRoomsAsync()).Unread);
    }

    [Theory]
    [MemberData(nameof(RecordBackends.Durable), MemberType = typeof(RecordBackends))]
    public async Task A_node_killed_mid_reply_comes_back_with_the_reply_failed_at_its_last_checkpoint(string backend)
    {
        var settings = new Dictionary<string, string?>(await SettingsAsync(backend, replyTokens: 2000))
        {
            ["Chat:Offline:TokenDelayMs"] = "5",
            ["Chat:Storage:CheckpointInterval"] = "00:00:00.2",
        };
        var streamed = "";
        string replyId;
        GuestSession session;
        await using (var doomed = await ServerProcess.StartAsync(settings))
        {
            await using var alice = await ChatClient.ConnectAsGuestAsync(doomed.Url, "alice");
            session = alice.Session!;
            var log = new EventLog(alice);
            await alice.CreateRoomAsync("crash", RoomVisibility.Private);
            var sent = await alice.SendMessageAsync("crash", "tell me a long story");
            var started = (MessageEvent)await log.WaitForAsync(e => e is MessageEvent { Message.Role: MessageRoles.Assistant });
            replyId = started.Message.MessageId;
            // Killed once the record holds part of the reply's text (a checkpoint), while it still streams.
            var record = await OpenRecordAsync(backend, settings);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while ((await record.GetMessagesAsync("crash", null, 10, deadline.Token)).Messages.SingleOrDefault(m => m.MessageId == replyId) is not { Text.Length: > 0 })
            {
                await Task.Delay(20, deadline.Token);
            }

            await doomed.KillAsync();
            streamed = log.TextOf(sent.GenerationId!);
        }

        await using var again = await ServerProcess.StartAsync(settings);
        await using var aliceAgain = new ChatClient(again.Url, session.Token);
        await aliceAgain.StartAsync();
        var snapshot = await aliceAgain.JoinRoomAsync("crash");
        var reply = snapshot.Messages.Single(m => m.MessageId == replyId);
        Assert.Equal(MessageStates.Failed, reply.State);
        Assert.NotEmpty(reply.Text);
        Assert.StartsWith(reply.Text, streamed, StringComparison.Ordinal);
        Assert.True(reply.Text.Length < streamed.Length + 1);
        Assert.Null(snapshot.ActiveGeneration);
        Assert.Equal("tell me a long story", snapshot.Messages[0].Text);
        Assert.Contains("1 replies that were running when the server stopped are now failed", again.Output);
        // And the room goes on.
        var next = await aliceAgain.AskAsync("crash", "again, shorter");
        Assert.NotNull(next.GenerationId);
    }

    [Fact]
    public async Task A_stopped_database_refuses_messages_clearly_and_loses_none_that_were_acknowledged()
    {
        await using var database = await PostgresServer.StartAsync();
        var settings = new Dictionary<string, string?>(await SettingsAsync(RecordBackends.Memory))
        {
            ["Chat:Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = await database.CreateDatabaseAsync(),
            ["Chat:Storage:WriteTimeout"] = "00:00:01",
            ["Chat:Storage:CheckpointInterval"] = "00:00:00.1",
        };
        var acknowledged = new List<string>();
        await using (var server = await ChatServer.StartAsync(settings))
        {
            var alice = await server.ConnectAsync("alice");
            var log = new EventLog(alice);
            await alice.JoinRoomAsync("ops");
            for (var i = 0; i < 3; i++)
            {
                var sent = await alice.SendMessageAsync("ops", $"before {i}");
                acknowledged.Add(sent.MessageId);
                await log.WaitForFinalAsync(sent.GenerationId!);
            }

            await database.StopAsync();
            // Refused with a sentence naming the database, until it answers again; the connection stays usable.
            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                while (true)
                {
                    var refused = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("ops", "while down"));
                    Assert.Contains("(ConnectionStrings:Postgres)", refused.Message);
                    if (refused.Message.Contains("the database is not answering", StringComparison.Ordinal))
                    {
                        break;
                    }

                    deadline.Token.ThrowIfCancellationRequested();
                }
            }

            Assert.Equal("ops", (await alice.JoinRoomAsync("ops")).RoomId);
            await database.StartAgainAsync();
            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                while (true)
                {
                    try
                    {
                        var sent = await alice.SendMessageAsync("ops", "after");
                        acknowledged.Add(sent.MessageId);
                        await log.WaitForFinalAsync(sent.GenerationId!);
                        break;
                    }
                    catch (HubException) when (!deadline.IsCancellationRequested)
                    {
                        await Task.Delay(100, deadline.Token);
                    }
                }
            }
        }

        await using var restarted = await ChatServer.StartAsync(settings);
        var bob = await restarted.ConnectAsync("bob");
        var stored = (await bob.JoinRoomAsync("ops")).Messages.Select(m => m.MessageId).ToHashSet();
        Assert.All(acknowledged, id => Assert.Contains(id, stored));
    }

    private async Task<IChatRecord> OpenRecordAsync(string backend, IReadOnlyDictionary<string, string?> settings)
    {
        await Task.CompletedTask;
        return backend == RecordBackends.Postgres
            ? new SqlChatRecord(new PostgresDatabase(settings["ConnectionStrings:Postgres"]!), TimeProvider.System)
            : new SqlChatRecord(new SqliteDatabase(settings["ConnectionStrings:Sqlite"], Paths.ServerProject), TimeProvider.System);
    }

    private static async Task<ChatClient> ReconnectAsync(ChatServer server, GuestSession session)
    {
        var client = new ChatClient(server.Url, session.Token);
        await client.StartAsync();
        // The handshake is answered before the node has registered the connection for messages to its
        // user (on Redis: subscribed to the user's channel); a hub call is only served once that is done.
        await client.ListRoomsAsync();
        return client;
    }

    private static Watcher<T> Watch<T>(Action<Action<T>> subscribe)
    {
        var watcher = new Watcher<T>();
        subscribe(watcher.Add);
        return watcher;
    }

    /// <summary>Collects events of one kind and waits for one that matches.</summary>
    private sealed class Watcher<T>
    {
        private readonly List<T> _seen = [];
        private readonly List<(Func<T, bool> Match, TaskCompletionSource<T> Found)> _waiting = [];

        public void Add(T item)
        {
            lock (_seen)
            {
                _seen.Add(item);
                foreach (var waiter in _waiting.Where(w => w.Match(item)).ToList())
                {
                    waiter.Found.TrySetResult(item);
                    _waiting.Remove(waiter);
                }
            }
        }

        public Task<T> WaitAsync(Func<T, bool> match)
        {
            lock (_seen)
            {
                foreach (var item in _seen.Where(match))
                {
                    return Task.FromResult(item);
                }

                var found = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Add((match, found));
                return found.Task.WaitAsync(EventLog.DefaultTimeout);
            }
        }
    }

    public void Dispose() => _backends.Dispose();
}
