using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// A room keeps the visibility it was created with: CreateRoom on an existing id answers only its
/// creator asking for the same visibility, and no race between two first callers leaves a room
/// public that its creator was told is private.
/// </summary>
public sealed class RoomVisibilityTests
{
    private const int Pairs = 60;

    // Many rooms on one connection, and creation and membership limits opened for the race.
    private static readonly Dictionary<string, string?> Roomy = new()
    {
        ["Chat:Limits:MaxRoomsPerConnection"] = "500",
        ["Chat:Limits:RoomsCreatedPerHour"] = "1000",
        ["Chat:Limits:MembershipChangesPerMinute"] = "1000",
    };

    [Fact]
    public async Task CreateRoom_private_on_a_public_room_is_refused_and_the_room_stays_as_it_was()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var carol = await server.ConnectAsync("carol");

        // Alice joined an unknown id: she created a public room. Asking for it private now is refused.
        await alice.JoinRoomAsync("plan");
        var sent = await alice.SendMessageAsync("plan", "the plan so far");
        var refused = await Assert.ThrowsAsync<HubException>(() => alice.CreateRoomAsync("plan", RoomVisibility.Private));
        Assert.Contains("room 'plan' already exists", refused.Message, StringComparison.Ordinal);
        Assert.Equal("plan", (await alice.CreateRoomAsync("plan", RoomVisibility.Public)).RoomId);

        // A member who did not create it cannot turn it private either, nor take it over as public.
        await bob.JoinRoomAsync("plan");
        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => bob.CreateRoomAsync("plan", RoomVisibility.Private))).Message);
        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => bob.CreateRoomAsync("plan", RoomVisibility.Public))).Message);

        // Still public: a third person joins and reads it, as everyone was told.
        var snapshot = await carol.JoinRoomAsync("plan");
        Assert.Contains(snapshot.Messages, m => m.MessageId == sent.MessageId);
        Assert.Equal(["alice", "bob", "carol"], snapshot.Members.Select(m => m.Name).Order());
        Assert.Equal(HubConnectionState.Connected, bob.State);
    }

    [Fact]
    public async Task A_private_room_never_turns_public_and_its_history_stays_closed()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var mallory = await server.ConnectAsync("mallory");
        var malloryLog = new EventLog(mallory);
        await alice.CreateRoomAsync("secret", RoomVisibility.Private);
        await alice.SendMessageAsync("secret", "my secret plan");
        Assert.Equal("secret", (await alice.CreateRoomAsync("secret", RoomVisibility.Private)).RoomId);

        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => alice.CreateRoomAsync("secret", RoomVisibility.Public))).Message);
        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => mallory.CreateRoomAsync("secret", RoomVisibility.Public))).Message);
        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => mallory.CreateRoomAsync("secret", RoomVisibility.Private))).Message);

        Assert.Contains("is private", (await Assert.ThrowsAsync<HubException>(() => mallory.JoinRoomAsync("secret"))).Message);
        var snapshot = await alice.JoinRoomAsync("secret");
        Assert.Equal(["alice"], snapshot.Members.Select(m => m.Name));
        Assert.DoesNotContain(malloryLog.Events, e => e.RoomId == "secret");
    }

    [Fact]
    public async Task CreateRoom_private_racing_JoinRoom_on_fresh_ids_never_leaves_a_private_room_open_on_one_node()
    {
        await using var server = await ChatServer.StartAsync(Roomy);
        await RaceAsync(await server.ConnectAsync("alice"), await server.ConnectAsync("bob"), await server.ConnectAsync("carol"), "one");
    }

    [Fact]
    public async Task CreateRoom_private_racing_JoinRoom_on_fresh_ids_never_leaves_a_private_room_open_across_two_nodes()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>(redis.NodeSettings());
        foreach (var (key, value) in Roomy)
        {
            settings[key] = value;
        }

        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        await RaceAsync(await nodeA.ConnectAsync("alice"), await nodeB.ConnectAsync("bob"), await nodeB.ConnectAsync("carol"), "two");
    }

    // Alice asks for a private room while Bob joins the same fresh id at the same moment. Either may
    // come first; whichever did, exactly one of them succeeds, and a room Alice was told is private
    // admits nobody else.
    private static async Task RaceAsync(ChatClient alice, ChatClient bob, ChatClient carol, string prefix)
    {
        var created = 0;
        for (var i = 0; i < Pairs; i++)
        {
            var id = $"race-{prefix}-{i}";
            var create = alice.CreateRoomAsync(id, RoomVisibility.Private);
            var join = bob.JoinRoomAsync(id);
            var createError = await ErrorOf(create);
            var joinError = await ErrorOf(join);

            if (createError is null)
            {
                created++;
                Assert.True(joinError is not null, $"{id}: Alice was told the room is private, and Bob joined it");
                Assert.Contains("is private", joinError.Message, StringComparison.Ordinal);
                Assert.Contains("is private", (await Assert.ThrowsAsync<HubException>(() => carol.JoinRoomAsync(id))).Message);
                Assert.Contains($"join room '{id}'", (await Assert.ThrowsAsync<HubException>(() => bob.SendMessageAsync(id, "am I in?"))).Message);
                Assert.Equal(["alice"], (await alice.JoinRoomAsync(id)).Members.Select(m => m.Name));
            }
            else
            {
                Assert.Contains($"room '{id}' already exists", createError.Message, StringComparison.Ordinal);
                Assert.True(joinError is null, $"{id}: neither CreateRoom nor JoinRoom succeeded: {joinError?.Message}");
                Assert.Equal(["bob", "carol"], (await carol.JoinRoomAsync(id)).Members.Select(m => m.Name).Order());
            }
        }

        Assert.Equal(HubConnectionState.Connected, alice.State);
        Assert.Equal(HubConnectionState.Connected, bob.State);
        Assert.InRange(created, 0, Pairs);
    }

    private static async Task<HubException?> ErrorOf(Task call)
    {
        try
        {
            await call;
            return null;
        }
        catch (HubException refused)
        {
            return refused;
        }
    }
}
