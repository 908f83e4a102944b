using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Every bad call gets a clear error; the caller's connection, other rooms and other members carry on.</summary>
public sealed class BadInputTests
{
    [Theory]
    [InlineData("has space")]
    [InlineData("")]
    [InlineData("semi;colon")]
    [InlineData("ünïcode")]
    [InlineData("a-very-long-room-id-that-goes-past-sixty-four-characters-xxxxxxxxx")]
    public async Task A_bad_room_id_is_refused_with_the_rule(string roomId)
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");

        var error = await Assert.ThrowsAsync<HubException>(() => alice.JoinRoomAsync(roomId));
        Assert.Contains("invalid room id", error.Message);
        Assert.Contains("1 to 64", error.Message);
        await AssertStillWorks(alice);
    }

    [Fact]
    public async Task A_null_room_id_is_refused()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");

        var error = await Assert.ThrowsAsync<HubException>(() => alice.Connection.InvokeAsync<RoomSnapshot>("JoinRoom", (string?)null));
        Assert.Contains("invalid room id", error.Message);
        await AssertStillWorks(alice);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t ")]
    public async Task An_empty_message_is_refused(string text)
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("r");

        var error = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("r", text));
        Assert.Contains("empty", error.Message);
        await AssertStillWorks(alice);
    }

    [Theory]
    [InlineData(16_001)]
    [InlineData(200_000)]
    public async Task An_over_long_message_is_refused_with_the_limit_and_nothing_is_added_to_history(int length)
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var before = await alice.JoinRoomAsync("r");

        var error = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("r", new string('x', length)));
        Assert.Contains($"{length} characters, the limit is 16000", error.Message);
        var after = await alice.JoinRoomAsync("r");
        Assert.Equal(before.LastSeq, after.LastSeq);
        Assert.Empty(after.Messages);
        await AssertStillWorks(alice);
    }

    [Fact]
    public async Task A_message_at_the_limit_is_accepted()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("r");

        var reply = await alice.AskAsync("r", new string('é', 16_000));
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(reply.GenerationId)).State);
    }

    [Fact]
    public async Task Sending_to_a_room_one_has_not_joined_is_refused()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");

        var error = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("not-joined", "hello?"));
        Assert.Contains("join room 'not-joined'", error.Message);
        await AssertStillWorks(alice);
    }

    [Fact]
    public async Task Stopping_another_rooms_reply_is_refused_and_the_reply_goes_on()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Offline:TokenDelayMs"] = "5", ["Chat:Offline:ReplyTokens"] = "150" });
        var alice = await server.ConnectAsync("alice");
        var mallory = await server.ConnectAsync("mallory");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("private-talk");
        await mallory.JoinRoomAsync("elsewhere");

        var reply = await alice.AskAsync("private-talk", "a long answer please");
        await log.WaitForTokensAsync(reply.GenerationId, 2);
        // Answered as for a reply that does not exist: an outsider learns neither the reply nor its room.
        Assert.False(await mallory.CancelGenerationAsync(reply.GenerationId));

        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(reply.GenerationId)).State);
        await AssertStillWorks(mallory);
    }

    [Theory]
    [InlineData("g-unknown")]
    [InlineData("")]
    public async Task Stopping_an_unknown_generation_returns_false_or_a_clear_error(string generationId)
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");

        if (generationId.Length == 0)
        {
            Assert.Contains("generationId", (await Assert.ThrowsAsync<HubException>(() => alice.CancelGenerationAsync(generationId))).Message);
        }
        else
        {
            Assert.False(await alice.CancelGenerationAsync(generationId));
        }

        await AssertStillWorks(alice);
    }

    [Fact]
    public async Task Wrong_argument_types_counts_and_unknown_methods_get_errors_and_the_connection_stays_open()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("r");

        await Assert.ThrowsAsync<HubException>(() => alice.Connection.InvokeAsync<object>("SendMessage", 42, new { nested = true }));
        await Assert.ThrowsAsync<HubException>(() => alice.Connection.InvokeAsync<object>("SendMessage", "r"));
        await Assert.ThrowsAsync<HubException>(() => alice.Connection.InvokeAsync<object>("Resume", "r", "not-a-number"));
        await Assert.ThrowsAsync<HubException>(() => alice.Connection.InvokeAsync<object>("NoSuchMethod", "r"));
        await Assert.ThrowsAsync<HubException>(() => alice.Connection.InvokeAsync<object>("CreateRoom", "r2", new { visibility = "secret" }));

        Assert.Equal(HubConnectionState.Connected, alice.State);
        await AssertStillWorks(alice);
    }

    [Fact]
    public async Task Bad_calls_from_one_member_do_not_disturb_a_reply_streaming_to_others()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Offline:TokenDelayMs"] = "5", ["Chat:Offline:ReplyTokens"] = "100" });
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("busy");
        await bob.JoinRoomAsync("busy");

        var reply = await alice.AskAsync("busy", "keep talking");
        await aliceLog.WaitForTokensAsync(reply.GenerationId, 2);
        for (var i = 0; i < 20; i++)
        {
            await Assert.ThrowsAsync<HubException>(() => bob.SendMessageAsync("busy", new string('x', 20_000)));
            await Assert.ThrowsAsync<HubException>(() => bob.JoinRoomAsync("../etc"));
            await Assert.ThrowsAsync<HubException>(() => bob.Connection.InvokeAsync<object>("SendMessage", i));
        }

        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal(final.Text, aliceLog.TextOf(reply.GenerationId));
        StreamingTests.AssertContiguous(aliceLog.Events.Where(e => e.Seq > 2).ToList(), 2);
    }

    [Fact]
    public async Task Resume_needs_membership_and_a_sensible_seq()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var mallory = await server.ConnectAsync("mallory");
        await alice.JoinRoomAsync("r");

        Assert.Contains("join room 'r'", (await Assert.ThrowsAsync<HubException>(() => mallory.ResumeAsync("r", 0))).Message);
        Assert.Contains("afterSeq", (await Assert.ThrowsAsync<HubException>(() => alice.ResumeAsync("r", -1))).Message);
        await AssertStillWorks(alice);
        await AssertStillWorks(mallory);
    }

    private static async Task AssertStillWorks(ChatClient client)
    {
        var room = "still-works-" + Guid.NewGuid().ToString("N")[..6];
        var snapshot = await client.JoinRoomAsync(room);
        Assert.Equal(room, snapshot.RoomId);
        var sent = await client.SendMessageAsync(room, "ping");
        Assert.False(string.IsNullOrEmpty(sent.GenerationId));
        Assert.Equal(HubConnectionState.Connected, client.State);
    }
}
