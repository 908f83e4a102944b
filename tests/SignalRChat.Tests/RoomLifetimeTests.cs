using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Storage;
using SignalRChat.Tests.Infrastructure;
using StackExchange.Redis;

namespace SignalRChat.Tests;

/// <summary>A node holds a room while something needs it there, lets it go after the idle time, and brings it back intact.</summary>
public sealed class RoomLifetimeTests
{
    private static Dictionary<string, string?> ShortIdle(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>(more ?? []) { ["Chat:Rooms:IdleTime"] = "00:00:00.2" };
        return settings;
    }

    /// <summary>Waits for the node to release each of <paramref name="roomIds"/>; start it before what makes them idle.</summary>
    private static Task WhenReleasedAsync(ChatServer server, params string[] roomIds)
    {
        var waiting = new ConcurrentDictionary<string, bool>(roomIds.Select(r => KeyValuePair.Create(r, true)));
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Services.GetRequiredService<RoomFanout>().Released += roomId =>
        {
            if (waiting.TryRemove(roomId, out _) && waiting.IsEmpty)
            {
                done.TrySetResult();
            }
        };
        return done.Task.WaitAsync(EventLog.DefaultTimeout);
    }

    [Fact]
    public async Task An_idle_room_is_released_and_a_later_join_finds_its_history_and_seq_intact()
    {
        await using var server = await ChatServer.StartAsync(ShortIdle());
        var fanout = server.Services.GetRequiredService<RoomFanout>();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("kept");
        var reply = await alice.AskAsync("kept", "remember this");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        var released = WhenReleasedAsync(server, "kept");
        await alice.LeaveRoomAsync("kept");
        await released;
        Assert.False(fanout.Holds("kept"));
        Assert.Equal(0, fanout.RoomCount);

        var bob = await server.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        var snapshot = await bob.JoinRoomAsync("kept");
        Assert.Contains(snapshot.Messages, m => m.Text == "remember this");
        Assert.Contains(snapshot.Messages, m => m.Role == MessageRoles.Assistant && m.Text == final.Text);
        // Alice's leave, then Bob's join: the seq carries on from where the room was.
        Assert.Equal(final.Seq + 2, snapshot.LastSeq);
        Assert.True(fanout.Holds("kept"));

        // The room works as before: a new reply reaches Bob with contiguous seqs.
        var again = await bob.AskAsync("kept", "and now?");
        await bobLog.WaitForFinalAsync(again.GenerationId);
        StreamingTests.AssertContiguous(bobLog.Events, snapshot.LastSeq);
    }

    [Fact]
    public async Task Rooms_joined_and_left_without_a_word_leave_nothing_behind_and_rooms_with_history_stay()
    {
        await using var server = await ChatServer.StartAsync(ShortIdle());
        var fanout = server.Services.GetRequiredService<RoomFanout>();
        var store = server.Services.GetRequiredService<InMemoryRoomStore>();
        var guest = await server.ConnectAsync("guest");
        var rooms = Enumerable.Range(0, 20).Select(i => $"spam-{i}").ToArray();
        var released = WhenReleasedAsync(server, [.. rooms, "talked", "made"]);
        foreach (var room in rooms)
        {
            await guest.JoinRoomAsync(room);
            await guest.LeaveRoomAsync(room);
        }

        var log = new EventLog(guest);
        await guest.JoinRoomAsync("talked");
        var reply = await guest.AskAsync("talked", "hello");
        await log.WaitForFinalAsync(reply.GenerationId);
        await guest.LeaveRoomAsync("talked");
        // A room someone created is kept though nothing was said in it.
        await guest.CreateRoomAsync("made", RoomVisibility.Public);
        await guest.LeaveRoomAsync("made");
        await released;

        Assert.Equal(0, fanout.RoomCount);
        Assert.Equal(2, store.RoomCount);
        // The record in memory forgets them too: only the room with history and the created one stay.
        await server.Services.GetRequiredService<ChatRecordWriter>().FlushAsync(CancellationToken.None);
        Assert.Equal(2, ((MemoryChatRecord)server.Services.GetRequiredService<IChatRecord>()).RoomCount);
        foreach (var room in rooms)
        {
            Assert.False(await store.ExistsAsync(room));
        }

        Assert.Contains((await guest.JoinRoomAsync("talked")).Messages, m => m.Text == "hello");
    }

    [Fact]
    public async Task A_room_is_held_while_a_member_is_connected_and_released_after_the_last_one_goes()
    {
        await using var server = await ChatServer.StartAsync(ShortIdle());
        var fanout = server.Services.GetRequiredService<RoomFanout>();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        await alice.JoinRoomAsync("held");
        await bob.JoinRoomAsync("held");

        // Bob goes; another room is released meanwhile (so sweeps have run), and this one stays while Alice is in it.
        await bob.LeaveRoomAsync("held");
        var other = WhenReleasedAsync(server, "other");
        await bob.JoinRoomAsync("other");
        await bob.LeaveRoomAsync("other");
        await other;
        Assert.True(fanout.Holds("held"));

        var released = WhenReleasedAsync(server, "held");
        await alice.DisposeAsync();
        await released;
        Assert.False(fanout.Holds("held"));
    }

    [Fact]
    public async Task A_room_with_a_running_reply_stays_held_until_the_reply_ends()
    {
        await using var server = await ChatServer.StartAsync(ShortIdle(new Dictionary<string, string?>
        {
            ["Chat:Offline:TokenDelayMs"] = "10",
            ["Chat:Offline:ReplyTokens"] = "3000",
            ["Chat:Generation:DrainTime"] = "00:00:00",
        }));
        var fanout = server.Services.GetRequiredService<RoomFanout>();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("replying");
        await bob.JoinRoomAsync("replying");
        var reply = await alice.SendMessageAsync("replying", "a very long story");
        await bobLog.WaitForTokensAsync(reply.GenerationId!, 5);

        // Alice's connection goes (she stays a member) and Bob leaves after seeing her go: nobody here needs the room but the reply.
        var token = alice.Session!.Token;
        await alice.DisposeAsync();
        await bobLog.WaitForAsync(e => e is PresenceEvent { Name: "alice", State: PresenceStates.Left });
        await bob.LeaveRoomAsync("replying");

        // A room that went idle later is released; this one, idle for longer, stays while its reply runs.
        var other = WhenReleasedAsync(server, "other");
        await bob.JoinRoomAsync("other");
        await bob.LeaveRoomAsync("other");
        await other;
        Assert.True(fanout.Holds("replying"));

        var released = WhenReleasedAsync(server, "replying");
        await using var again = new ChatClient(server.Url, token);
        await again.StartAsync();
        Assert.True(await again.CancelGenerationAsync(reply.GenerationId!));
        await released;
        Assert.False(fanout.Holds("replying"));
    }

    private const string Channel = "chat:{room:redis-kept}:events";

    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task With_Redis_an_idle_room_unsubscribes_its_channel_and_a_later_join_subscribes_again_with_the_room_intact(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);
        await using var nodeA = await ChatServer.StartAsync(ShortIdle(redis.NodeSettings()));
        await using var nodeB = await ChatServer.StartAsync(ShortIdle(redis.NodeSettings()));
        var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        await using var _ = admin;
        // Room channels are sharded channels (SSUBSCRIBE): PUBSUB SHARDCHANNELS lists those some client is subscribed to,
        // each shard its own (on a cluster, the channel lives on the master of the room's slot).
        async Task<string[]> ChannelsAsync()
        {
            var channels = new List<string>();
            foreach (var server in admin.GetServers())
            {
                channels.AddRange(((RedisResult[])(await server.ExecuteAsync("PUBSUB", "SHARDCHANNELS", "chat:{room:*"))!).Select(r => (string)r!));
            }

            return [.. channels];
        }

        var alice = await nodeA.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("redis-kept");
        var reply = await alice.AskAsync("redis-kept", "keep this");
        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Contains(Channel, await ChannelsAsync());

        var released = WhenReleasedAsync(nodeA, "redis-kept");
        await alice.LeaveRoomAsync("redis-kept");
        await released;
        Assert.DoesNotContain(Channel, await ChannelsAsync());

        // Bob on the other node, and Alice back on hers: history and seq as they were, live events flow to both.
        var bob = await nodeB.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        var bobSnapshot = await bob.JoinRoomAsync("redis-kept");
        Assert.Contains(bobSnapshot.Messages, m => m.Text == "keep this");
        Assert.Equal(final.Seq + 2, bobSnapshot.LastSeq);
        var aliceSnapshot = await alice.JoinRoomAsync("redis-kept");
        Assert.Contains(Channel, await ChannelsAsync());

        var again = await bob.AskAsync("redis-kept", "again");
        await aliceLog.WaitForFinalAsync(again.GenerationId);
        await bobLog.WaitForFinalAsync(again.GenerationId);
        StreamingTests.AssertContiguous(aliceLog.Events.Where(e => e.Seq > aliceSnapshot.LastSeq).ToList(), aliceSnapshot.LastSeq);
        StreamingTests.AssertContiguous(bobLog.Events, bobSnapshot.LastSeq);
    }

    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task With_Redis_every_key_of_an_idle_rooms_hot_state_expires_after_IdleRoomTtl(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);
        var settings = ShortIdle(redis.NodeSettings());
        settings["Chat:Redis:IdleRoomTtl"] = "00:00:02";
        await using var node = await ChatServer.StartAsync(settings);
        var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        await using var _ = admin;
        // Every key in Redis with its time to live, from every shard.
        async Task<Dictionary<string, TimeSpan?>> KeysAsync()
        {
            var keys = new Dictionary<string, TimeSpan?>(StringComparer.Ordinal);
            foreach (var server in admin.GetServers().Where(s => !s.IsReplica))
            {
                await foreach (var key in server.KeysAsync(pattern: "*"))
                {
                    keys[key!] = await admin.GetDatabase().KeyTimeToLiveAsync(key);
                }
            }

            return keys;
        }

        var alice = await node.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("ttl-room");
        var reply = await alice.AskAsync("ttl-room", "remember me for a while");
        await log.WaitForFinalAsync(reply.GenerationId);
        var released = WhenReleasedAsync(node, "ttl-room");
        await alice.LeaveRoomAsync("ttl-room");
        await released;

        var held = await KeysAsync();
        // Nothing in Redis is kept for ever: every key has a time to live (the reply's and the user's limits their own),
        // and the room's hot state at most IdleRoomTtl.
        Assert.All(held, key => Assert.True(key.Value is { } ttl && ttl > TimeSpan.Zero, $"{key.Key} has no time to live"));
        var room = held.Where(k => k.Key.StartsWith("chat:{room:ttl-room}", StringComparison.Ordinal)).ToList();
        Assert.Contains(room, k => k.Key.EndsWith(":history", StringComparison.Ordinal));
        Assert.All(room, key => Assert.True(key.Value <= TimeSpan.FromSeconds(2), $"{key.Key}: {key.Value}"));

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((await KeysAsync()).Keys.Any(k => k.StartsWith("chat:{room:ttl-room}", StringComparison.Ordinal)))
        {
            // Redis expires keys on its own clock: look again until they are gone, within the deadline.
            await Task.Delay(100, deadline.Token);
        }

        // The node carries on: the room can be entered again and talked in.
        await alice.JoinRoomAsync("ttl-room");
        var again = await alice.AskAsync("ttl-room", "still here?");
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(again.GenerationId)).State);
    }

    [Fact]
    public async Task A_resume_from_further_back_than_MaxReplayEvents_answers_reset_and_a_nearer_one_replays()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Rooms:MaxReplayEvents"] = "10" });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("far");
        var reply = await alice.AskAsync("far", "a reply of twenty tokens");
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.True(final.Seq > 15);

        var bob = await server.ConnectAsync("bob");
        await bob.JoinRoomAsync("far");
        var far = await bob.Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, "far", 1L);
        Assert.True(far.Reset);

        var bobLog = new RawEventLog(bob.Connection);
        var lastSeq = bob.LastSeq("far");
        var near = await bob.Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, "far", lastSeq - 5);
        Assert.False(near.Reset);
        await bobLog.WaitForAsync(e => e.Seq == lastSeq);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => lastSeq - 4 + i), bobLog.Events.Select(e => e.Seq).Take(5));
    }

    [Fact]
    public async Task A_resume_above_the_rooms_last_seq_answers_reset_without_overflow_and_the_connection_keeps_receiving()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        await alice.JoinRoomAsync("above");
        var snapshot = await bob.JoinRoomAsync("above");

        var above = await bob.Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, "above", snapshot.LastSeq + 100);
        Assert.True(above.Reset);
        Assert.Equal(snapshot.LastSeq, above.ToSeq);
        var max = await bob.Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, "above", long.MaxValue);
        Assert.True(max.Reset);
        Assert.Equal(long.MaxValue, max.FromSeq);

        // Bob was not muted: the room's next events reach him.
        var bobLog = new EventLog(bob);
        var reply = await alice.AskAsync("above", "hello");
        await bobLog.WaitForFinalAsync(reply.GenerationId);

        // Last-Event-ID above the last seq starts the stream from a snapshot.
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/rooms/above/events");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", alice.Session!.Token);
        request.Headers.Add("Last-Event-ID", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        SseFrame? frame;
        do
        {
            frame = await sse.NextAsync();
        }
        while (frame is { Event: null });

        Assert.Equal("snapshot", frame?.Event);
    }

    [Fact]
    public async Task Big_resumes_in_the_middle_of_a_reply_leave_every_members_stream_contiguous()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Offline:TokenDelayMs"] = "1",
            ["Chat:Offline:ReplyTokens"] = "1500",
            // Above what the reply adds while Carol resumes, so whether a resume resets does not depend on timing.
            ["Chat:Rooms:MaxReplayEvents"] = "5000",
        });
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        var start = await alice.JoinRoomAsync("busy");
        var first = await alice.AskAsync("busy", "fill the log");
        await aliceLog.WaitForFinalAsync(first.GenerationId, TimeSpan.FromSeconds(60));

        var bob = await server.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        var bobStart = await bob.JoinRoomAsync("busy");
        var carol = await server.ConnectAsync("carol");
        await carol.JoinRoomAsync("busy");
        var second = await alice.AskAsync("busy", "and another");
        await bobLog.WaitForTokensAsync(second.GenerationId, 50);

        // Carol resumes hundreds of events back while the reply streams.
        var carolLog = new RawEventLog(carol.Connection);
        var lastFrom = Math.Max(0, carol.LastSeq("busy") - 500);
        var resumed = await carol.Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, "busy", lastFrom);

        var final = await bobLog.WaitForFinalAsync(second.GenerationId, TimeSpan.FromSeconds(60));
        await aliceLog.WaitForFinalAsync(second.GenerationId, TimeSpan.FromSeconds(60));
        await carolLog.WaitForAsync(e => e.Seq == final.Seq, TimeSpan.FromSeconds(60));
        Assert.False(resumed.Reset);
        StreamingTests.AssertContiguous(aliceLog.Events, start.LastSeq);
        StreamingTests.AssertContiguous(bobLog.Events, bobStart.LastSeq);
        Assert.Equal(final.Text, bobLog.TextOf(second.GenerationId));

        // Every seq from the resume's start to the end reached Carol, in order.
        var tail = carolLog.Events.SkipWhile(e => e.FirstCoveredSeq != lastFrom + 1).ToList();
        Assert.NotEmpty(tail);
        var expected = lastFrom;
        foreach (var roomEvent in tail)
        {
            Assert.True(roomEvent.FirstCoveredSeq <= expected + 1, $"gap before seq {roomEvent.Seq}");
            expected = Math.Max(expected, roomEvent.Seq);
        }

        Assert.Equal(final.Seq, expected);
    }
}
