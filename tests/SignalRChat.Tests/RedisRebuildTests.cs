using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Storage;
using SignalRChat.Tests.Infrastructure;
using StackExchange.Redis;

namespace SignalRChat.Tests;

/// <summary>
/// The record against a Redis that lost rooms (flushed, or restarted without its data): rooms are rebuilt from the
/// record with seq going on above it, private rooms stay private; a dead node's reply is failed in the record too;
/// room settings are recorded.
/// </summary>
public sealed class RedisRebuildTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IDisposable
{
    private const string SigningKey = "a-rebuild-signing-key-of-more-than-32-bytes";
    private readonly RecordBackends _backends = new(postgres);

    private async Task<Dictionary<string, string?>> SettingsAsync(string backend, RedisServer? redis = null, int replyTokens = 4)
    {
        var settings = new Dictionary<string, string?>(await _backends.SettingsAsync(backend))
        {
            ["Chat:Offline:ReplyTokens"] = replyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Chat:Limits:MessagesPerMinute"] = "1000",
            ["Chat:Limits:MaxQueuedGenerationsPerRoom"] = "100",
        };
        foreach (var (key, value) in redis?.NodeSettings(SigningKey) ?? [])
        {
            settings[key] = value;
        }

        settings["Chat:Auth:SigningKey"] = SigningKey;
        return settings;
    }

    [Theory]
    [InlineData("flushed")]
    [InlineData("restarted empty")]
    public async Task When_Redis_comes_back_empty_rooms_are_rebuilt_from_the_record_and_private_rooms_stay_private(string loss)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var server = await ChatServer.StartAsync(await SettingsAsync(RecordBackends.Sqlite, redis));
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var mallory = await server.ConnectAsync("mallory");
        var aliceLog = new EventLog(alice);
        await alice.CreateRoomAsync("vault", RoomVisibility.Private);
        await alice.InviteToRoomAsync("vault", bob.Session!.UserId);
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(GenerationStates.Completed, (await (await alice.AskAsync("vault", $"secret {i}")).Completion.WaitAsync(EventLog.DefaultTimeout)).State);
        }

        var settings = await alice.UpdateRoomSettingsAsync("vault", new RoomSettingsUpdate(OnBusy: BusyModes.Reject, Topic: "the plan"));
        await alice.JoinRoomAsync("open");
        await (await alice.AskAsync("open", "hello all")).Completion.WaitAsync(EventLog.DefaultTimeout);
        var before = await alice.JoinRoomAsync("vault");
        Assert.Equal(6, before.Messages.Count);
        // What the record has (read after the writes queued before it): every message, ended.
        Assert.Equal(Rows(before.Messages), Rows((await alice.GetHistoryAsync("vault", 0, 200)).Messages));

        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
        {
            if (loss == "flushed")
            {
                await admin.GetDatabase().ExecuteAsync("FLUSHALL");
            }
        }

        if (loss != "flushed")
        {
            await redis.RestartAsync();
        }

        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            Assert.False(await admin.GetDatabase().KeyExistsAsync("chat:{room:vault}:meta"));
        }

        // The stranger comes first: the room Redis lost is neither his to create nor open to him.
        var taken = await UntilAvailableAsync(() => Assert.ThrowsAsync<HubException>(() => mallory.CreateRoomAsync("vault", RoomVisibility.Public)));
        Assert.Contains("already exists", taken.Message);
        Assert.Contains("room 'vault' is private", (await Assert.ThrowsAsync<HubException>(() => mallory.JoinRoomAsync("vault"))).Message);
        Assert.Contains("join room 'vault'", (await Assert.ThrowsAsync<HubException>(() => mallory.GetHistoryAsync("vault", 0, 5))).Message);

        // A client resuming from before the loss is told to start again; the room is as the record has it.
        Assert.True((await alice.ResumeAsync("vault", before.LastSeq)).Reset);
        var restored = await alice.JoinRoomAsync("vault");
        Assert.Equal(Rows(before.Messages), Rows(restored.Messages));
        Assert.True(restored.LastSeq > before.LastSeq);
        Assert.Equal(settings, restored.Settings);
        Assert.Equal(new RoomSettings(AssistantModes.Always, BusyModes.Reject, "the plan"), restored.Settings);
        Assert.Equal(6, (await bob.JoinRoomAsync("vault")).Messages.Count);
        Assert.Equal(2, (await mallory.JoinRoomAsync("open")).Messages.Count);

        // Seq goes on above everything stored, and paging back returns every message once, in order.
        var sent = await alice.SendMessageAsync("vault", "after the loss");
        Assert.Equal(GenerationStates.Completed, (await aliceLog.WaitForFinalAsync(sent.GenerationId!)).State);
        var all = await PageBackAsync(alice, "vault", 3);
        Assert.Equal(8, all.Count);
        Assert.Equal(all.Count, all.Select(m => m.MessageId).Distinct().Count());
        Assert.Equal(all.Select(m => m.Seq).Order(), all.Select(m => m.Seq));
        Assert.Equal(Rows(before.Messages), Rows(all.Take(6)));
        Assert.True(all.Single(m => m.MessageId == sent.MessageId).Seq > before.LastSeq);
        Assert.Equal(all.Select(m => m.MessageId), (await alice.JoinRoomAsync("vault")).Messages.Select(m => m.MessageId));
        Assert.Equal(Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Connected, mallory.State);
    }

    [Fact]
    public async Task Nodes_that_find_a_lost_room_at_once_rebuild_it_once_and_a_node_started_after_the_loss_does_too()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = await SettingsAsync(RecordBackends.Postgres, redis);
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        await alice.CreateRoomAsync("across", RoomVisibility.Private);
        await alice.InviteToRoomAsync("across", bob.Session!.UserId);
        await bob.JoinRoomAsync("across");
        for (var i = 1; i <= 2; i++)
        {
            await (await alice.AskAsync("across", $"question {i}")).Completion.WaitAsync(EventLog.DefaultTimeout);
        }

        await alice.UpdateRoomSettingsAsync("across", new RoomSettingsUpdate(Assistant: AssistantModes.Mentioned, Topic: "both nodes"));
        var before = await alice.JoinRoomAsync("across");
        Assert.Equal(Rows(before.Messages), Rows((await alice.GetHistoryAsync("across", 0, 200)).Messages));

        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
        {
            await admin.GetDatabase().ExecuteAsync("FLUSHALL");
        }

        await using var nodeC = await ChatServer.StartAsync(settings);
        await using var bobPhone = new ChatClient(nodeC.Url, bob.Session!.Token);
        await bobPhone.StartAsync();
        // Three nodes need the room at the same moment: two that knew it, one that never saw it.
        var joins = await Task.WhenAll(alice.JoinRoomAsync("across"), bob.JoinRoomAsync("across"), bobPhone.JoinRoomAsync("across"));
        Assert.All(joins, snapshot =>
        {
            Assert.Equal(Rows(before.Messages), Rows(snapshot.Messages));
            Assert.Equal(new RoomSettings(AssistantModes.Mentioned, BusyModes.Queue, "both nodes"), snapshot.Settings);
            Assert.True(snapshot.LastSeq > before.LastSeq);
        });

        var mallory = await nodeC.ConnectAsync("mallory");
        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => mallory.CreateRoomAsync("across", RoomVisibility.Public))).Message);
        Assert.Contains("room 'across' is private", (await Assert.ThrowsAsync<HubException>(() => mallory.JoinRoomAsync("across"))).Message);

        var sent = await bob.SendMessageAsync("across", "@assistant still here?");
        Assert.Equal(GenerationStates.Completed, (await bobLog.WaitForFinalAsync(sent.GenerationId!)).State);
        // Read on the node that ran the reply: its record writes are the ones a read there waits for.
        var all = await PageBackAsync(bob, "across", 2);
        Assert.Equal(6, all.Count);
        Assert.Equal(all.Count, all.Select(m => m.MessageId).Distinct().Count());
        Assert.True(all.Single(m => m.MessageId == sent.MessageId).Seq > before.LastSeq);
        Assert.Equal(all.Select(m => m.MessageId), (await bobPhone.JoinRoomAsync("across")).Messages.Select(m => m.MessageId));
    }

    [Fact]
    public async Task A_reply_whose_node_was_killed_is_failed_in_the_record_by_the_node_that_fails_it_with_its_text()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(await SettingsAsync(RecordBackends.Postgres, redis, replyTokens: 3000))
        {
            ["Chat:Offline:TokenDelayMs"] = "10",
            ["Chat:Storage:CheckpointInterval"] = "00:00:00.2",
        };
        await using var doomed = await ServerProcess.StartAsync(settings);
        await using var survivor = await ChatServer.StartAsync(settings);
        await using var alice = await ChatClient.ConnectAsGuestAsync(doomed.Url, "alice");
        var bob = await survivor.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("fragile");
        await bob.JoinRoomAsync("fragile");

        var sent = await alice.SendMessageAsync("fragile", "a long reply on the node that dies");
        var started = (MessageEvent)await bobLog.WaitForAsync(e => e is MessageEvent { Message.Role: MessageRoles.Assistant });
        // Killed once the record holds part of the reply's text (a checkpoint, state generating), while it still streams.
        var record = new SqlChatRecord(new PostgresDatabase(settings["ConnectionStrings:Postgres"]!), TimeProvider.System);
        await using (record)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while ((await record.GetMessagesAsync("fragile", null, 10, deadline.Token)).Messages.SingleOrDefault(m => m.MessageId == started.Message.MessageId)
                is not { Text.Length: > 0, State: MessageStates.Generating })
            {
                await Task.Delay(20, deadline.Token);
            }

            await doomed.KillAsync();
            var failed = await bobLog.WaitForFinalAsync(sent.GenerationId!, TimeSpan.FromSeconds(15));
            Assert.Equal(GenerationStates.Failed, failed.State);
            Assert.NotEmpty(failed.Text!);

            // The survivor's record write follows the status it appended: read until it is there.
            ChatMessage reply;
            while ((reply = (await bob.GetHistoryAsync("fragile", 0, 50)).Messages.Single(m => m.MessageId == started.Message.MessageId)).State != MessageStates.Failed)
            {
                deadline.Token.ThrowIfCancellationRequested();
                await Task.Delay(20, deadline.Token);
            }

            Assert.Equal(failed.Text, reply.Text);
            var stored = (await record.GetMessagesAsync("fragile", null, 10, deadline.Token)).Messages.Single(m => m.MessageId == reply.MessageId);
            Assert.Equal(("failed", "the server handling this reply stopped", failed.Text), (stored.State, stored.Error, stored.Text));
        }

        using var http = survivor.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bob.AccessToken);
        var page = await http.GetFromJsonAsync<HistoryPage>("/api/rooms/fragile/messages");
        var viaHttp = page!.Messages.Single(m => m.MessageId == started.Message.MessageId);
        Assert.Equal((MessageStates.Failed, bobLog.TextOf(sent.GenerationId!)), (viaHttp.State, viaHttp.Text));
        Assert.DoesNotContain(page.Messages, m => m.State == MessageStates.Generating);
        Assert.Null((await bob.JoinRoomAsync("fragile")).ActiveGeneration);
    }

    [Theory]
    [MemberData(nameof(RecordBackends.Durable), MemberType = typeof(RecordBackends))]
    public async Task Room_settings_are_recorded_and_come_back_after_a_restart(string backend)
    {
        var settings = await SettingsAsync(backend);
        RoomSettings changed;
        GuestSession session;
        await using (var first = await ChatServer.StartAsync(settings))
        {
            var alice = await first.ConnectAsync("alice");
            session = alice.Session!;
            await alice.CreateRoomAsync("tuned", RoomVisibility.Private);
            await alice.UpdateRoomSettingsAsync("tuned", new RoomSettingsUpdate(Topic: "first topic"));
            changed = await alice.UpdateRoomSettingsAsync("tuned", new RoomSettingsUpdate(Assistant: AssistantModes.Mentioned, OnBusy: BusyModes.Interrupt));
            Assert.Equal(new RoomSettings(AssistantModes.Mentioned, BusyModes.Interrupt, "first topic"), changed);
            await alice.JoinRoomAsync("plain");
        }

        RoomSettings cleared;
        await using (var second = await ChatServer.StartAsync(settings))
        {
            // A stranger's update is refused and changes nothing.
            var mallory = await second.ConnectAsync("mallory");
            await Assert.ThrowsAsync<HubException>(() => mallory.UpdateRoomSettingsAsync("tuned", new RoomSettingsUpdate(Topic: "mine now")));
            await using var aliceAgain = new ChatClient(second.Url, session.Token);
            await aliceAgain.StartAsync();
            Assert.Equal(changed, (await aliceAgain.JoinRoomAsync("tuned")).Settings);
            Assert.Equal(RoomSettings.Default, (await aliceAgain.JoinRoomAsync("plain")).Settings);

            // Cleared, and still cleared after the next restart.
            cleared = await aliceAgain.UpdateRoomSettingsAsync("tuned", new RoomSettingsUpdate(Topic: ""));
            Assert.Null(cleared.Topic);
        }

        await using var third = await ChatServer.StartAsync(settings);
        await using var aliceLater = new ChatClient(third.Url, session.Token);
        await aliceLater.StartAsync();
        Assert.Equal(cleared, (await aliceLater.JoinRoomAsync("tuned")).Settings);
    }

    private static List<(string MessageId, long Seq, string Role, string Text, string State)> Rows(IEnumerable<ChatMessage> messages) =>
        messages.Select(m => (m.MessageId, m.Seq, m.Role, m.Text, m.State)).ToList();

    private static async Task<List<ChatMessage>> PageBackAsync(ChatClient client, string roomId, int limit)
    {
        var all = new List<ChatMessage>();
        long beforeSeq = 0;
        while (true)
        {
            var page = await client.GetHistoryAsync(roomId, beforeSeq, limit);
            all.InsertRange(0, page.Messages);
            if (!page.HasMore)
            {
                return all;
            }

            Assert.True(beforeSeq == 0 || page.Messages[0].Seq < beforeSeq, "paging back must go back");
            Assert.True(all.Count < 1000, "paging back must end");
            beforeSeq = page.Messages[0].Seq;
        }
    }

    /// <summary>Runs <paramref name="call"/> until the node has its Redis connection back (a restarted Redis is reconnected to within seconds).</summary>
    private static async Task<HubException> UntilAvailableAsync(Func<Task<HubException>> call)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var refused = await call();
            if (!refused.Message.Contains("temporarily unavailable", StringComparison.Ordinal) || deadline.IsCancellationRequested)
            {
                return refused;
            }

            await Task.Delay(100, deadline.Token);
        }
    }

    public void Dispose() => _backends.Dispose();
}
