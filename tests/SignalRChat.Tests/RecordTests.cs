using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Storage;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>The record of rooms and messages, the same stories on SQLite, PostgreSQL and memory.</summary>
public sealed class RecordTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly RecordBackends _backends = new(postgres);

    private static readonly DateTimeOffset Start = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task Paging_back_returns_every_message_exactly_once_in_order(string backend)
    {
        await using var server = await ChatServer.StartAsync(await _backends.SettingsAsync(backend));
        var writer = server.Services.GetRequiredService<ChatRecordWriter>();
        var record = server.Services.GetRequiredService<IChatRecord>();
        await writer.Write(new RoomSaved("lobby", RoomVisibility.Public, "u-alice", Start));
        // Seqs with gaps, as a room's stream has (tokens and presence take seqs too).
        var written = Enumerable.Range(1, 457).Select(i => Message("lobby", i * 3, $"message {i}")).ToList();
        foreach (var message in written)
        {
            _ = writer.Write(new MessageSaved(message));
        }

        await writer.FlushAsync(Timeout());

        foreach (var limit in new[] { 1, 7, 200 })
        {
            var seen = new List<StoredMessage>();
            long? before = null;
            var pages = 0;
            while (true)
            {
                var page = await record.GetMessagesAsync("lobby", before, limit, Timeout());
                pages++;
                Assert.True(page.Messages.Count <= limit);
                Assert.Equal(page.Messages.OrderBy(m => m.Seq).Select(m => m.Seq), page.Messages.Select(m => m.Seq));
                seen.InsertRange(0, page.Messages);
                if (!page.HasMore)
                {
                    break;
                }

                Assert.Equal(limit, page.Messages.Count);
                before = page.Messages[0].Seq;
            }

            Assert.Equal(written.Select(m => (m.MessageId, m.Seq, m.Text)), seen.Select(m => (m.MessageId, m.Seq, m.Text)));
            Assert.Equal((int)Math.Ceiling(457.0 / limit), pages);
        }

        var none = await record.GetMessagesAsync("lobby", 3, 50, Timeout());
        Assert.Empty(none.Messages);
        Assert.False(none.HasMore);
        Assert.Empty((await record.GetMessagesAsync("nowhere", null, 50, Timeout())).Messages);
    }

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task A_message_keeps_everything_it_was_written_with_and_a_later_write_updates_it(string backend)
    {
        await using var server = await ChatServer.StartAsync(await _backends.SettingsAsync(backend));
        var writer = server.Services.GetRequiredService<ChatRecordWriter>();
        var record = server.Services.GetRequiredService<IChatRecord>();
        await writer.Write(new RoomSaved("r1", RoomVisibility.Private, "u-alice", Start));
        var reply = new StoredMessage("m-reply", "r1", 4, "assistant", "Assistant", MessageRoles.Assistant, "Hel", MessageStates.Generating, Start.AddSeconds(1),
            Regenerates: "m-old");
        await writer.Write(new MessageSaved(reply));
        await writer.Write(new MessageSaved(reply with
        {
            Text = "Hello, wörld ✓ \"quoted\"",
            State = MessageStates.Cancelled,
            Usage = new UsageInfo(12, 34),
            CancelledBy = new RoomMember("u-bob", "bob"),
        }));

        var stored = Assert.Single((await record.GetMessagesAsync("r1", null, 10, Timeout())).Messages);
        Assert.Equal(reply with
        {
            Text = "Hello, wörld ✓ \"quoted\"",
            State = MessageStates.Cancelled,
            Usage = new UsageInfo(12, 34),
            CancelledBy = new RoomMember("u-bob", "bob"),
        }, stored);
    }

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task A_room_keeps_its_visibility_creator_settings_invitations_and_members(string backend)
    {
        await using var server = await ChatServer.StartAsync(await _backends.SettingsAsync(backend));
        var writer = server.Services.GetRequiredService<ChatRecordWriter>();
        var record = server.Services.GetRequiredService<IChatRecord>();
        await writer.Write(new RoomSaved("secret", RoomVisibility.Private, "u-alice", Start));
        // A second creation of the same id changes nothing: the first visibility and creator stay.
        _ = writer.Write(new RoomSaved("secret", RoomVisibility.Public, "u-mallory", Start.AddHours(1)));
        _ = writer.Write(new RoomSettingsSaved("secret", """{"assistant":"mentioned","onBusy":"queue","topic":"plans"}"""));
        _ = writer.Write(new MembershipSaved("secret", "u-alice", "alice", false, Start));
        _ = writer.Write(new InvitationSaved("secret", "u-bob", "u-alice", Start.AddMinutes(1)));
        _ = writer.Write(new InvitationSaved("secret", "u-bob", "u-alice", Start.AddMinutes(2)));
        _ = writer.Write(new MembershipSaved("secret", "u-bob", "bob", false, Start.AddMinutes(3)));
        _ = writer.Write(new MembershipSaved("secret", "u-bob", "bob", true, Start.AddMinutes(4)));
        _ = writer.Write(new SeqReached("secret", 41));
        _ = writer.Write(new SeqReached("secret", 12));
        await writer.FlushAsync(Timeout());

        var room = await record.FindRoomAsync("secret", Timeout());
        Assert.NotNull(room);
        Assert.Equal(RoomVisibility.Private, room.Visibility);
        Assert.Equal("u-alice", room.CreatorId);
        Assert.Equal(Start, room.CreatedAt);
        Assert.Equal("plans", JsonDocument.Parse(room.Settings!).RootElement.GetProperty("topic").GetString());
        Assert.Equal(41, room.LastSeq);
        Assert.Equal(["u-bob"], room.Invited);
        Assert.Equal([new StoredMember("u-alice", "alice", false, 0), new StoredMember("u-bob", "bob", true, 0)], room.Members);
        Assert.Null(await record.FindRoomAsync("unknown", Timeout()));
    }

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task Each_person_lists_their_own_rooms_newest_first_with_preview_members_and_unread(string backend)
    {
        await using var server = await ChatServer.StartAsync(await _backends.SettingsAsync(backend));
        var writer = server.Services.GetRequiredService<ChatRecordWriter>();
        var record = server.Services.GetRequiredService<IChatRecord>();
        _ = writer.Write(new RoomSaved("alices", RoomVisibility.Private, "u-alice", Start));
        _ = writer.Write(new MembershipSaved("alices", "u-alice", "alice", false, Start));
        _ = writer.Write(new RoomSaved("lobby", RoomVisibility.Public, null, Start));
        _ = writer.Write(new MembershipSaved("lobby", "u-alice", "alice", false, Start));
        _ = writer.Write(new MembershipSaved("lobby", "u-bob", "bob", false, Start));
        _ = writer.Write(new RoomSaved("left", RoomVisibility.Public, null, Start));
        _ = writer.Write(new MembershipSaved("left", "u-bob", "bob", false, Start));
        _ = writer.Write(new MembershipSaved("left", "u-bob", "bob", true, Start.AddMinutes(1)));
        _ = writer.Write(new InvitationSaved("alices", "u-carol", "u-alice", Start.AddMinutes(2)));
        _ = writer.Write(new MessageSaved(Message("lobby", 2, "hello from alice", "u-alice", "alice", Start.AddMinutes(5))));
        _ = writer.Write(new MessageSaved(Message("lobby", 3, "hi alice", "u-bob", "bob", Start.AddMinutes(6))));
        _ = writer.Write(new MessageSaved(Message("lobby", 5, "are you there?", "u-bob", "bob", Start.AddMinutes(7))));
        _ = writer.Write(new MessageSaved(Message("alices", 2, new string('x', 500), "u-alice", "alice", Start.AddMinutes(10))));
        _ = writer.Write(new ReadMarked("lobby", "u-alice", 3));
        _ = writer.Write(new ReadMarked("lobby", "u-alice", 2));
        await writer.FlushAsync(Timeout());

        var alice = await record.ListRoomsAsync("u-alice", Timeout());
        Assert.Equal(["alices", "lobby"], alice.Select(r => r.RoomId));
        Assert.Equal(RoomVisibility.Private, alice[0].Visibility);
        Assert.Equal(Start.AddMinutes(10), alice[0].LastActivity);
        Assert.Equal(200, alice[0].LastMessage!.Text.Length);
        Assert.Equal(1, alice[0].MemberCount);
        Assert.Equal(0, alice[0].Unread);
        Assert.Equal("are you there?", alice[1].LastMessage!.Text);
        Assert.Equal("bob", alice[1].LastMessage!.AuthorName);
        Assert.Equal(2, alice[1].MemberCount);
        Assert.Equal(5, alice[1].LastSeq);
        Assert.Equal(3, alice[1].ReadSeq);
        Assert.Equal(1, alice[1].Unread);

        var bob = await record.ListRoomsAsync("u-bob", Timeout());
        Assert.Equal(["lobby"], bob.Select(r => r.RoomId));
        // Bob's own messages are not unread to him; alice's one is.
        Assert.Equal(1, bob[0].Unread);

        var carol = Assert.Single(await record.ListRoomsAsync("u-carol", Timeout()));
        Assert.Equal("alices", carol.RoomId);
        Assert.Equal(1, carol.Unread);
        Assert.Empty(await record.ListRoomsAsync("u-mallory", Timeout()));
    }

    [Theory]
    [MemberData(nameof(RecordBackends.Durable), MemberType = typeof(RecordBackends))]
    public async Task A_second_start_on_the_same_database_finds_everything_and_migrates_nothing_again(string backend)
    {
        var settings = await _backends.SettingsAsync(backend);
        await using (var first = await ChatServer.StartAsync(settings))
        {
            var writer = first.Services.GetRequiredService<ChatRecordWriter>();
            _ = writer.Write(new RoomSaved("kept", RoomVisibility.Private, "u-alice", Start));
            // A reply that was streaming when its server stopped, at its last checkpoint.
            _ = writer.Write(new MessageSaved(new StoredMessage("m-1", "kept", 2, "assistant", "Assistant", MessageRoles.Assistant, "The answer is",
                MessageStates.Generating, Start)));
            _ = writer.Write(new MessageSaved(Message("kept", 1, "what is it?")));
        }

        await using var second = await ChatServer.StartAsync(settings);
        var record = second.Services.GetRequiredService<IChatRecord>();
        Assert.Equal(RoomVisibility.Private, (await record.FindRoomAsync("kept", Timeout()))!.Visibility);
        var messages = (await record.GetMessagesAsync("kept", null, 10, Timeout())).Messages;
        Assert.Equal(["what is it?", "The answer is"], messages.Select(m => m.Text));
        Assert.Equal(MessageStates.Failed, messages[1].State);
        Assert.Equal(ChatRecordStartup.InterruptedError, messages[1].Error);
        Assert.Contains(second.Logs.Lines, l => l.Contains("1 replies that were running when the server stopped are now failed", StringComparison.Ordinal));
        Assert.DoesNotContain(second.Logs.Lines, l => l.Contains("schema migrated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_default_record_is_an_sqlite_file_in_wal_mode_whose_folder_is_created()
    {
        var root = Directory.CreateTempSubdirectory("signalrchat-root-").FullName;
        try
        {
            var file = Path.Combine(root, "nested", "folder", "chat.db");
            await using (var server = await ChatServer.StartAsync(new Dictionary<string, string?>
            {
                ["Chat:Storage:Provider"] = null,
                ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine("nested", "folder", "chat.db")}",
                ["contentRoot"] = root,
            }))
            {
                Assert.Contains(server.Logs.Lines, l => l.Contains($"recorded in SQLite at {file} (ConnectionStrings:Sqlite)", StringComparison.Ordinal));
                Assert.Contains(server.Logs.Lines, l => l.Contains("schema migrated to version 1", StringComparison.Ordinal));
            }

            Assert.True(File.Exists(file));
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file}");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode";
            Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
            command.CommandText = "SELECT version FROM schema_version";
            Assert.Equal(1L, (long?)await command.ExecuteScalarAsync());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_database_that_cannot_be_reached_stops_the_start_with_a_sentence_naming_its_setting()
    {
        var closedPort = RedisServer.FreePort();
        var postgresDown = await Assert.ThrowsAsync<ChatRecordUnavailableException>(() => ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = $"Host=127.0.0.1;Port={closedPort};Username=chat;Password=hunter2;Database=chat;Timeout=2",
        }));
        Assert.Contains($"PostgreSQL at 127.0.0.1:{closedPort}/chat (ConnectionStrings:Postgres) could not be opened or migrated", postgresDown.Message);
        Assert.DoesNotContain("hunter2", postgresDown.Message);

        var sqliteDown = await Assert.ThrowsAsync<ChatRecordUnavailableException>(() => ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Storage:Provider"] = "Sqlite",
            ["ConnectionStrings:Sqlite"] = "Data Source=/proc/signalrchat/chat.db",
        }));
        Assert.Contains("SQLite at /proc/signalrchat/chat.db (ConnectionStrings:Sqlite) could not be opened or migrated", sqliteDown.Message);

        var unknown = await Assert.ThrowsAsync<OptionsValidationException>(() => ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Storage:Provider"] = "Mongo" }));
        Assert.Contains("Chat:Storage:Provider must be Sqlite (default), Postgres or Memory", unknown.Message);
        var noConnection = await Assert.ThrowsAsync<OptionsValidationException>(() => ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Storage:Provider"] = "Postgres" }));
        Assert.Contains("ConnectionStrings:Postgres is required when Chat:Storage:Provider=Postgres", noConnection.Message);
    }

    [Fact]
    public async Task The_server_process_says_which_database_it_could_not_reach()
    {
        var closedPort = RedisServer.FreePort();
        await using var run = CommandRun.Start("dotnet",
            [typeof(SignalRChat.Server.ChatApp).Assembly.Location, "--urls", "http://127.0.0.1:0", "--environment", "Development", "--contentRoot", Paths.ServerProject,
             "--Chat:Storage:Provider=Postgres", $"--ConnectionStrings:Postgres=Host=127.0.0.1;Port={closedPort};Username=chat;Timeout=2"],
            Paths.Root);
        var exit = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, exit);
        Assert.Contains($"SignalRChat did not start: PostgreSQL at 127.0.0.1:{closedPort}/chat (ConnectionStrings:Postgres) could not be opened or migrated", run.Output);
    }

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task Messages_older_than_the_retention_are_removed_and_none_are_without_it(string backend)
    {
        var settings = await _backends.SettingsAsync(backend);
        var now = DateTimeOffset.UtcNow;
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>(settings)
        {
            ["Chat:Rooms:HistoryRetention"] = "1.00:00:00",
            ["Chat:Rooms:RetentionSweepInterval"] = "00:00:00.2",
        });
        var writer = server.Services.GetRequiredService<ChatRecordWriter>();
        var record = server.Services.GetRequiredService<IChatRecord>();
        _ = writer.Write(new RoomSaved("old", RoomVisibility.Public, null, now.AddDays(-3)));
        _ = writer.Write(new MessageSaved(Message("old", 1, "from three days ago", at: now.AddDays(-3))));
        _ = writer.Write(new MessageSaved(Message("old", 2, "from an hour ago", at: now.AddHours(-1))));
        await writer.FlushAsync(Timeout());

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while ((await record.GetMessagesAsync("old", null, 10, deadline.Token)).Messages.Count != 1)
        {
            await Task.Delay(50, deadline.Token);
        }

        Assert.Equal("from an hour ago", Assert.Single((await record.GetMessagesAsync("old", null, 10, Timeout())).Messages).Text);
    }

    [Fact]
    public async Task A_stopped_database_makes_the_node_not_ready_refuses_what_must_be_stored_and_loses_no_queued_write()
    {
        await using var database = await PostgresServer.StartAsync();
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = await database.CreateDatabaseAsync(),
            ["Chat:Storage:WriteTimeout"] = "00:00:01",
        });
        var writer = server.Services.GetRequiredService<ChatRecordWriter>();
        var record = server.Services.GetRequiredService<IChatRecord>();
        using var http = server.CreateHttpClient();

        // Readiness names its checks to signed-in callers only (docs/security.md).
        var operatorSession = await SignalRChat.Client.ChatClient.SignInAsGuestAsync(server.Url, "operator");
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", operatorSession.Token);
        await writer.Write(new RoomSaved("r", RoomVisibility.Public, null, Start));
        Assert.Equal("Healthy", await http.GetStringAsync("/health/ready"));

        await database.StopAsync();
        var queued = Enumerable.Range(1, 50).Select(i => writer.Write(new MessageSaved(Message("r", i, $"while down {i}")))).ToList();
        var report = await WaitForReadinessAsync(http, r => r.Status == "Unhealthy");
        Assert.Contains("PostgreSQL at 127.0.0.1", report.Database);
        Assert.Contains("(ConnectionStrings:Postgres) is down", report.Database);

        var refused = await Assert.ThrowsAsync<ChatRequestException>(() => writer.WriteAndWaitAsync(new MessageSaved(Message("r", 99, "refused")), Timeout()));
        Assert.Equal(ChatRefusal.Unavailable, refused.Refusal);
        Assert.Contains("the database is not answering", refused.Message);
        Assert.Contains("(ConnectionStrings:Postgres)", refused.Message);

        await database.StartAgainAsync();
        await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(30));
        await WaitForReadinessAsync(http, r => r.Status == "Healthy");
        var stored = (await record.GetMessagesAsync("r", null, 200, Timeout())).Messages;
        Assert.Equal(Enumerable.Range(1, 50).Select(i => $"while down {i}"), stored.Where(m => m.Text.StartsWith("while down", StringComparison.Ordinal)).Select(m => m.Text));
    }

    private static async Task<(string Status, string Database)> WaitForReadinessAsync(HttpClient http, Func<(string Status, string Database), bool> wanted)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/health/ready");
            request.Headers.Accept.ParseAdd("application/json");
            using var response = await http.SendAsync(request, deadline.Token);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(deadline.Token);
            var report = (body.GetProperty("status").GetString()!, body.GetProperty("entries").GetProperty("database").GetProperty("description").GetString()!);
            if (wanted(report))
            {
                return report;
            }

            await Task.Delay(50, deadline.Token);
        }
    }

    private static StoredMessage Message(string room, long seq, string text, string author = "u-alice", string name = "alice", DateTimeOffset? at = null) =>
        new($"m-{room}-{seq}", room, seq, author, name, MessageRoles.User, text, MessageStates.Completed, at ?? Start.AddSeconds(seq));

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    public void Dispose() => _backends.Dispose();
}
