using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary><c>finalText=omit</c>: a reply's text crosses the wire once, and the client still ends with the whole reply.</summary>
public sealed class FinalTextTests
{
    [Fact]
    public async Task With_finalText_omit_the_final_status_comes_without_text_and_the_client_puts_it_back()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Offline:TokenDelayMs"] = "5", ["Chat:Offline:ReplyTokens"] = "200" });
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("once");

        // What crosses the wire for a client that asked for finalText=omit, and for one that did not.
        var lean = await RawStatusesAsync(server, "lean", omit: true);
        var full = await RawStatusesAsync(server, "full", omit: false);

        var reply = await alice.AskAsync("once", "a reply to build from its deltas");
        await aliceLog.WaitForTokensAsync(reply.GenerationId, 50);

        // Bob comes in mid-reply: the snapshot has the text so far, the deltas the rest.
        var bob = await server.ConnectAsync("bob", omitFinalText: true);
        var bobLog = new EventLog(bob);
        await bob.JoinRoomAsync("once");

        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId);
        var stored = (await (await server.ConnectAsync("carol")).JoinRoomAsync("once")).Messages.Single(m => m.MessageId == aliceFinal.MessageId).Text;
        Assert.Equal(stored, aliceFinal.Text);
        Assert.Equal(stored, bobFinal.Text);
        Assert.Equal(stored, (await reply.Completion).Text);

        var leanFinal = await lean.Final.Task.WaitAsync(EventLog.DefaultTimeout);
        var fullFinal = await full.Final.Task.WaitAsync(EventLog.DefaultTimeout);
        Assert.Null(leanFinal["text"]);
        Assert.Equal("completed", (string?)leanFinal["state"]);
        Assert.Equal(stored, (string?)fullFinal["text"]);
        Assert.Equal(stored, lean.Text.ToString());
    }

    private static async Task<RawMember> RawStatusesAsync(ChatServer server, string name, bool omit)
    {
        var session = await ChatClient.SignInAsGuestAsync(server.Url, name);
        var path = ChatProtocol.HubPath + (omit ? $"?{ChatProtocol.Query.FinalText}={ChatProtocol.Query.Omit}" : string.Empty);
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Url, path), options =>
            {
                options.AccessTokenProvider = () => Task.FromResult<string?>(session.Token);
                options.Transports = HttpTransportType.WebSockets;
                options.SkipNegotiation = true;
            })
            .Build();
        var member = new RawMember();
        connection.On<JsonObject>(ChatProtocol.Events.Token, token => member.Text.Append((string?)token["text"]));
        connection.On<JsonObject>(ChatProtocol.Events.Status, status =>
        {
            if ((string?)status["state"] is GenerationStates.Completed or GenerationStates.Cancelled or GenerationStates.Failed)
            {
                member.Final.TrySetResult(status);
            }
        });
        await connection.StartAsync();
        await connection.InvokeAsync<JsonObject>(ChatProtocol.Methods.JoinRoom, "once");
        return member;
    }

    private sealed class RawMember
    {
        public System.Text.StringBuilder Text { get; } = new();

        public TaskCompletionSource<JsonObject> Final { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
