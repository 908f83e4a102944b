using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// <c>CloseRoom</c> (an extension): a connection stops carrying a room it no longer shows, and the person stays a member,
/// so someone who looks at many rooms one after another never meets the per-connection room limit.
/// </summary>
public sealed class CloseRoomTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly RecordBackends _backends = new(postgres);

    public void Dispose() => _backends.Dispose();

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task A_closed_room_stops_reaching_the_connection_frees_its_slot_and_keeps_the_membership(string backend)
    {
        var settings = await _backends.SettingsAsync(backend);
        settings["Chat:Limits:MaxRoomsPerConnection"] = "2";
        await using var server = await ChatServer.StartAsync(settings);
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("first");
        await alice.JoinRoomAsync("second");
        await bob.JoinRoomAsync("first");
        Assert.Contains("already in 2 rooms", (await Assert.ThrowsAsync<HubException>(() => alice.JoinRoomAsync("third"))).Message);

        await alice.CloseRoomAsync("first");
        var closedAt = (await bob.JoinRoomAsync("first")).LastSeq;

        // The slot is free again, and however many rooms she looks at one after another, she never runs out of them.
        for (var i = 0; i < 5; i++)
        {
            await alice.JoinRoomAsync($"browse-{i}");
            await alice.CloseRoomAsync($"browse-{i}");
        }

        Assert.Equal("third", (await alice.JoinRoomAsync("third")).RoomId);
        await alice.CloseRoomAsync("third");

        // Bob talks in the room she closed: the reply is not carried to her connection, and she is still a member.
        var reply = await bob.AskAsync("first", "are you there, alice?");
        await bobLog.WaitForFinalAsync(reply.GenerationId);
        var reopened = await alice.JoinRoomAsync("first");
        Assert.DoesNotContain(aliceLog.Events, e => e.RoomId == "first" && e.Seq > closedAt && e.Seq <= reopened.LastSeq);
        Assert.Contains(reopened.Messages, m => m.Text == "are you there, alice?");
        var listed = await alice.ListRoomsAsync();
        Assert.Contains(listed, r => r.RoomId == "first");

        // After opening it again she receives it live.
        var next = await bob.AskAsync("first", "and now?");
        await aliceLog.WaitForFinalAsync(next.GenerationId);
        StreamingTests.AssertContiguous(aliceLog.Events.Where(e => e.RoomId == "first" && e.Seq > reopened.LastSeq).ToList(), reopened.LastSeq);
    }

    [Fact]
    public async Task Closing_a_room_one_is_not_in_or_a_bad_id_answers_clearly_and_harms_nothing()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("kept");

        await alice.CloseRoomAsync("never-joined");
        Assert.Contains("a room id is 1 to 64 characters", (await Assert.ThrowsAsync<HubException>(() => alice.CloseRoomAsync("bad id\n"))).Message);

        var reply = await alice.AskAsync("kept", "still fine?");
        Assert.Equal(GenerationStates.Completed, (await log.WaitForFinalAsync(reply.GenerationId)).State);
        Assert.Equal(HubConnectionState.Connected, alice.State);
    }
}
