using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// The model bill has limits that hold while a reply streams: the longest reply, the user's daily budget
/// (input, output and tools' model calls), and a budget per address that new guests do not reset.
/// </summary>
public sealed class CostTests
{
    [Fact]
    public async Task A_reply_longer_than_MaxOutputTokens_is_stopped_with_a_limit_status_and_the_room_goes_on()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Model:MaxOutputTokens"] = "10",
            ["Chat:Offline:ReplyTokens"] = "50",
        });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("long");

        var reply = await alice.AskAsync("long", "tell me everything");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Cancelled, final.State);
        Assert.Equal(CancelReasons.Limit, final.Reason);
        Assert.Null(final.CancelledBy);
        Assert.Contains("Chat:Model:MaxOutputTokens", final.Error, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(final.Text));
        Assert.Equal(final.Text, log.TextOf(reply.GenerationId));

        var snapshot = await alice.JoinRoomAsync("long");
        Assert.Equal(MessageStates.Cancelled, snapshot.Messages.Single(m => m.Role == MessageRoles.Assistant).State);
        var next = await alice.AskAsync("long", "shorter then");
        Assert.Equal(CancelReasons.Limit, (await log.WaitForFinalAsync(next.GenerationId)).Reason);
    }

    [Fact]
    public async Task The_daily_budget_stops_a_reply_while_it_streams_and_refuses_the_next_message()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Limits:DailyTokensPerUser"] = "150",
            ["Chat:Offline:ReplyTokens"] = "2000",
        });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("costly");

        var reply = await alice.AskAsync("costly", "write a very long story");
        var final = await log.WaitForFinalAsync(reply.GenerationId);

        Assert.Equal(GenerationStates.Cancelled, final.State);
        Assert.Equal(CancelReasons.Limit, final.Reason);
        Assert.Contains("Chat:Limits:DailyTokensPerUser", final.Error, StringComparison.Ordinal);
        Assert.Equal(final.Text, log.TextOf(reply.GenerationId));

        var refused = await Assert.ThrowsAsync<HubException>(() => alice.SendMessageAsync("costly", "more please"));
        Assert.Contains("Chat:Limits:DailyTokensPerUser", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_guest_from_the_same_address_does_not_get_a_new_budget()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Limits:DailyTokensPerUser"] = "0",
            ["Chat:Limits:DailyTokensPerAddress"] = "150",
            ["Chat:Offline:ReplyTokens"] = "2000",
        });
        var first = await server.ConnectAsync("guest1");
        var log = new EventLog(first);
        await first.JoinRoomAsync("rotate");
        var reply = await first.AskAsync("rotate", "write a very long story");
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(CancelReasons.Limit, final.Reason);

        // The script signs in again as a fresh guest from the same address.
        var second = await server.ConnectAsync("guest2");
        await second.JoinRoomAsync("rotate");
        var refused = await Assert.ThrowsAsync<HubException>(() => second.SendMessageAsync("rotate", "and again"));

        Assert.Contains("Chat:Limits:DailyTokensPerAddress", refused.Message, StringComparison.Ordinal);
        Assert.Single((await second.JoinRoomAsync("rotate")).Messages, m => m.Role == MessageRoles.User);
    }

    [Theory]
    [InlineData("Chat:Model:MaxOutputTokens", "0")]
    [InlineData("Chat:Model:MaxToolCallsPerRound", "0")]
    [InlineData("Chat:Limits:DailyTokensPerAddress", "-1")]
    public async Task A_nonsensical_cost_setting_stops_start_up_and_names_the_key(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatServer.StartAsync(new Dictionary<string, string?> { [key] = value }));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }
}
