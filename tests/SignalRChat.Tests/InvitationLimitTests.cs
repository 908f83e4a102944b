using System.Security.Cryptography;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// Invitation lists are bounded: a room invites at most <c>Chat:Limits:MaxInvitationsPerRoom</c> people, and a person
/// waits on at most <c>Chat:Limits:MaxPendingInvitationsPerUser</c> rooms they have not joined. A loop of invitations is
/// refused at the cap, naming it, and leaves the room, its members and every other invitation as they were.
/// </summary>
public sealed class InvitationLimitTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly RecordBackends _backends = new(postgres);

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task A_loop_of_invitations_stops_at_the_rooms_cap_and_the_room_stays_as_it_was(string backend)
    {
        var settings = await _backends.SettingsAsync(backend);
        settings["Chat:Limits:MaxInvitationsPerRoom"] = "5";
        settings["Chat:Limits:InvitationsPerMinute"] = "1000";
        await using var server = await ChatServer.StartAsync(settings);
        var mallory = await server.ConnectAsync("mallory");
        var bob = await server.ConnectAsync("bob");
        var carol = await server.ConnectAsync("carol");
        await mallory.CreateRoomAsync("flood", RoomVisibility.Private);
        await mallory.InviteToRoomAsync("flood", bob.Session!.UserId);

        var invited = 1;
        HubException? refused = null;
        for (var i = 0; i < 50 && refused is null; i++)
        {
            try
            {
                await mallory.InviteToRoomAsync("flood", NewGuestId());
                invited++;
            }
            catch (HubException ex)
            {
                refused = ex;
            }
        }

        Assert.Equal(5, invited);
        Assert.NotNull(refused);
        Assert.Contains("Chat:Limits:MaxInvitationsPerRoom", refused.Message, StringComparison.Ordinal);
        Assert.Contains("room 'flood' has 5 invitations", refused.Message, StringComparison.Ordinal);

        // The list is full: Carol was not added, and an ill-formed id is still told apart from a full list.
        Assert.Contains("Chat:Limits:MaxInvitationsPerRoom",
            (await Assert.ThrowsAsync<HubException>(() => mallory.InviteToRoomAsync("flood", carol.Session!.UserId))).Message, StringComparison.Ordinal);
        Assert.Contains("invalid userId", (await Assert.ThrowsAsync<HubException>(() => mallory.InviteToRoomAsync("flood", "carol"))).Message, StringComparison.Ordinal);
        Assert.Contains("is private", (await Assert.ThrowsAsync<HubException>(() => carol.JoinRoomAsync("flood"))).Message, StringComparison.Ordinal);

        // Inviting someone already on the list changes nothing and is not refused; those invited still get in.
        await mallory.InviteToRoomAsync("flood", bob.Session.UserId);
        Assert.Equal(["bob", "mallory"], (await bob.JoinRoomAsync("flood")).Members.Select(m => m.Name).Order());

        // Other rooms have their own lists, and the connection that was refused goes on.
        await mallory.CreateRoomAsync("other", RoomVisibility.Private);
        await mallory.InviteToRoomAsync("other", carol.Session!.UserId);
        Assert.Equal(["carol", "mallory"], (await carol.JoinRoomAsync("other")).Members.Select(m => m.Name).Order());
        Assert.Equal(HubConnectionState.Connected, mallory.State);
        await mallory.SendMessageAsync("flood", "still here");
    }

    [Theory]
    [MemberData(nameof(RecordBackends.All), MemberType = typeof(RecordBackends))]
    public async Task A_person_cannot_be_flooded_with_invitations_to_rooms_they_have_not_joined(string backend)
    {
        var settings = await _backends.SettingsAsync(backend);
        settings["Chat:Limits:MaxPendingInvitationsPerUser"] = "3";
        settings["Chat:Limits:InvitationsPerMinute"] = "1000";
        await using var server = await ChatServer.StartAsync(settings);
        var mallory = await server.ConnectAsync("mallory");
        var bob = await server.ConnectAsync("bob");
        var carol = await server.ConnectAsync("carol");
        var bobId = bob.Session!.UserId;

        var invited = new List<string>();
        HubException? refused = null;
        for (var i = 0; i < 20 && refused is null; i++)
        {
            var room = $"spam-{i}";
            await mallory.CreateRoomAsync(room, RoomVisibility.Private);
            try
            {
                await mallory.InviteToRoomAsync(room, bobId);
                invited.Add(room);
            }
            catch (HubException ex)
            {
                refused = ex;
            }
        }

        Assert.Equal(["spam-0", "spam-1", "spam-2"], invited);
        Assert.NotNull(refused);
        Assert.Contains("Chat:Limits:MaxPendingInvitationsPerUser", refused.Message, StringComparison.Ordinal);
        Assert.Contains("is private", (await Assert.ThrowsAsync<HubException>(() => bob.JoinRoomAsync("spam-3"))).Message, StringComparison.Ordinal);
        Assert.Equal(["spam-0", "spam-1", "spam-2"], (await bob.ListRoomsAsync()).Select(r => r.RoomId).Order());

        // Invited again to a room he already waits on: nothing changes, nothing is refused. Carol can still be invited there.
        await mallory.InviteToRoomAsync("spam-1", bobId);
        await mallory.InviteToRoomAsync("spam-3", carol.Session!.UserId);
        Assert.Equal(["carol", "mallory"], (await carol.JoinRoomAsync("spam-3")).Members.Select(m => m.Name).Order());

        // Joining a room uses its invitation up (leaving does not bring it back), so Bob has a place again.
        await bob.JoinRoomAsync("spam-0");
        await bob.LeaveRoomAsync("spam-0");
        await mallory.InviteToRoomAsync("spam-3", bobId);
        Assert.Equal(["bob", "carol", "mallory"], (await bob.JoinRoomAsync("spam-3")).Members.Select(m => m.Name).Order());
        Assert.Equal(HubConnectionState.Connected, mallory.State);
    }

    [Fact]
    public async Task Both_caps_hold_across_two_nodes_with_Redis_and_a_shared_record()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = redis.NodeSettings();
        foreach (var (key, value) in await _backends.SettingsAsync(RecordBackends.Postgres))
        {
            settings[key] = value;
        }

        settings["Chat:Limits:MaxInvitationsPerRoom"] = "2";
        settings["Chat:Limits:MaxPendingInvitationsPerUser"] = "2";
        settings["Chat:Limits:InvitationsPerMinute"] = "1000";
        await using var nodeA = await ChatServer.StartAsync(settings);
        await using var nodeB = await ChatServer.StartAsync(settings);
        var malloryOnA = await nodeA.ConnectAsync("mallory");
        await using var malloryOnB = new ChatClient(nodeB.Url, malloryOnA.Session!.Token);
        await malloryOnB.StartAsync();
        var bob = await nodeB.ConnectAsync("bob");

        await malloryOnA.CreateRoomAsync("club", RoomVisibility.Private);
        await malloryOnA.InviteToRoomAsync("club", NewGuestId());
        await malloryOnB.InviteToRoomAsync("club", NewGuestId());
        Assert.Contains("Chat:Limits:MaxInvitationsPerRoom",
            (await Assert.ThrowsAsync<HubException>(() => malloryOnA.InviteToRoomAsync("club", bob.Session!.UserId))).Message, StringComparison.Ordinal);
        Assert.Contains("Chat:Limits:MaxInvitationsPerRoom",
            (await Assert.ThrowsAsync<HubException>(() => malloryOnB.InviteToRoomAsync("club", bob.Session!.UserId))).Message, StringComparison.Ordinal);

        foreach (var room in new[] { "one", "two", "three" })
        {
            await malloryOnA.CreateRoomAsync(room, RoomVisibility.Private);
        }

        await malloryOnA.InviteToRoomAsync("one", bob.Session!.UserId);
        await malloryOnB.InviteToRoomAsync("two", bob.Session.UserId);
        Assert.Contains("Chat:Limits:MaxPendingInvitationsPerUser",
            (await Assert.ThrowsAsync<HubException>(() => malloryOnB.InviteToRoomAsync("three", bob.Session.UserId))).Message, StringComparison.Ordinal);
        Assert.Contains("Chat:Limits:MaxPendingInvitationsPerUser",
            (await Assert.ThrowsAsync<HubException>(() => malloryOnA.InviteToRoomAsync("three", bob.Session.UserId))).Message, StringComparison.Ordinal);
        Assert.Contains("is private", (await Assert.ThrowsAsync<HubException>(() => bob.JoinRoomAsync("three"))).Message, StringComparison.Ordinal);
        Assert.Equal(["bob", "mallory"], (await bob.JoinRoomAsync("two")).Members.Select(m => m.Name).Order());
    }

    [Theory]
    [InlineData("Chat:Limits:MaxInvitationsPerRoom")]
    [InlineData("Chat:Limits:MaxPendingInvitationsPerUser")]
    public async Task A_cap_below_one_stops_start_up_naming_its_key(string key)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?> { [key] = "0" }));
        Assert.Contains(key, failure.Message, StringComparison.Ordinal);
    }

    private static string NewGuestId() => "u-" + RandomNumberGenerator.GetHexString(32, lowercase: true);

    public void Dispose() => _backends.Dispose();
}
