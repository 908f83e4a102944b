using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>A private room admits its creator and those invited; everybody else is refused and changes nothing.</summary>
public sealed class PrivateRoomTests
{
    [Fact]
    public async Task Outsiders_cannot_join_send_stop_resume_or_invite_and_see_nothing()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Offline:TokenDelayMs"] = "5", ["Chat:Offline:ReplyTokens"] = "150" });
        var alice = await server.ConnectAsync("alice");
        var mallory = await server.ConnectAsync("mallory");
        var aliceLog = new EventLog(alice);
        var malloryLog = new EventLog(mallory);
        await alice.CreateRoomAsync("secret", RoomVisibility.Private);
        var reply = await alice.AskAsync("secret", "tell me a secret");
        await aliceLog.WaitForTokensAsync(reply.GenerationId, 2);

        Assert.Contains("room 'secret' is private", (await Assert.ThrowsAsync<HubException>(() => mallory.JoinRoomAsync("secret"))).Message);
        Assert.Contains("already exists", (await Assert.ThrowsAsync<HubException>(() => mallory.CreateRoomAsync("secret", RoomVisibility.Private))).Message);
        Assert.Contains("join room 'secret'", (await Assert.ThrowsAsync<HubException>(() => mallory.SendMessageAsync("secret", "let me in"))).Message);
        // Stopping a reply of a room one is not in answers as for a reply that does not exist.
        Assert.False(await mallory.CancelGenerationAsync(reply.GenerationId));
        Assert.Contains("join room 'secret'", (await Assert.ThrowsAsync<HubException>(() => mallory.ResumeAsync("secret", 0))).Message);
        Assert.Contains("join room 'secret'", (await Assert.ThrowsAsync<HubException>(() => mallory.InviteToRoomAsync("secret", mallory.Session!.UserId))).Message);
        Assert.Contains("room 'secret' is private", (await Assert.ThrowsAsync<HubException>(() => mallory.JoinRoomAsync("secret"))).Message);

        // The reply ran to its end, and the room holds no trace of Mallory.
        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        var snapshot = await alice.JoinRoomAsync("secret");
        Assert.DoesNotContain(snapshot.Messages, m => m.AuthorName == "mallory");
        Assert.DoesNotContain(aliceLog.Events, e => e is PresenceEvent { Name: "mallory" });
        Assert.Equal(["alice"], snapshot.Members.Select(m => m.Name));
        Assert.DoesNotContain(malloryLog.Events, e => e.RoomId == "secret");
        Assert.Equal(HubConnectionState.Connected, mallory.State);
    }

    [Fact]
    public async Task Invited_people_join_read_send_and_may_invite_others()
    {
        await using var server = await ChatServer.StartAsync();
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var carol = await server.ConnectAsync("carol");
        var dave = await server.ConnectAsync("dave");
        var bobLog = new EventLog(bob);
        await alice.CreateRoomAsync("team", RoomVisibility.Private);
        var first = await alice.SendMessageAsync("team", "welcome");

        await alice.InviteToRoomAsync("team", bob.Session!.UserId);
        var snapshot = await bob.JoinRoomAsync("team");
        Assert.Contains(snapshot.Messages, m => m.MessageId == first.MessageId);

        var sent = await bob.SendMessageAsync("team", "thanks");
        Assert.Equal(GenerationStates.Completed, (await bobLog.WaitForFinalAsync(sent.GenerationId!)).State);
        await bob.InviteToRoomAsync("team", carol.Session!.UserId);
        Assert.Equal("team", (await carol.JoinRoomAsync("team")).RoomId);
        Assert.Contains("is private", (await Assert.ThrowsAsync<HubException>(() => dave.JoinRoomAsync("team"))).Message);

        // Leaving ends membership, not the invitation.
        await bob.LeaveRoomAsync("team");
        Assert.Contains("join room 'team'", (await Assert.ThrowsAsync<HubException>(() => bob.SendMessageAsync("team", "still here?"))).Message);
        Assert.Equal("team", (await bob.JoinRoomAsync("team")).RoomId);
    }
}
