using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Malformed frames: the sender's connection is closed or answered with an error; the room streams on.</summary>
public sealed class HostileFrameTests : HostileInputTests
{
    [Theory]
    [InlineData("garbage")]
    [InlineData("deep-nesting")]
    [InlineData("oversized-frame")]
    [InlineData("invalid-utf8-text-frame")]
    [InlineData("invalid-utf8-binary-frame")]
    [InlineData("unknown-message-type")]
    [InlineData("empty-records")]
    public Task A_malformed_frame_hurts_only_its_sender_while_the_room_streams_on(string attack) => AttackWhileStreamingAsync(attack);
}

/// <summary>Well-formed frames with calls no client library would make: errors for the sender; the room streams on.</summary>
public sealed class HostileCallTests : HostileInputTests
{
    [Theory]
    [InlineData("unknown-method")]
    [InlineData("wrong-argument-types")]
    [InlineData("too-few-arguments")]
    [InlineData("over-long-text")]
    [InlineData("completion-for-nothing")]
    [InlineData("no-target")]
    public Task A_hostile_call_hurts_only_its_sender_while_the_room_streams_on(string attack) => AttackWhileStreamingAsync(attack);
}

/// <summary>
/// Frames no SignalR client would send, over a plain WebSocket, while a room streams a reply to its
/// other members: the harm stays on the sender's connection, and the room finishes undisturbed.
/// </summary>
public abstract class HostileInputTests
{
    private const char RS = RawHubSocket.RecordSeparator;

    protected static async Task AttackWhileStreamingAsync(string attack)
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Offline:TokenDelayMs"] = "5",
            ["Chat:Offline:ReplyTokens"] = "50",
        });
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("stream");
        var joined = await bob.JoinRoomAsync("stream");
        var mallory = await ChatClient.SignInAsGuestAsync(server.Url, "mallory");
        await using var raw = await RawHubSocket.ConnectAsync(server.Url, mallory.Token);
        var join = await raw.InvokeAsync("join", "JoinRoom", """["stream"]""");
        Assert.NotNull(join);
        Assert.True(join.RootElement.TryGetProperty("result", out _), join.RootElement.GetRawText());

        var reply = await alice.AskAsync("stream", "a long reply please");
        await bobLog.WaitForTokensAsync(reply.GenerationId, 3);

        var answer = await SendAttackAsync(raw, attack);

        // The sender got an error and may go on, or was closed cleanly.
        if (answer is not null && RawHubSocket.IsCompletion(answer, "attack"))
        {
            Assert.True(answer.RootElement.TryGetProperty("error", out var error), answer.RootElement.GetRawText());
            Assert.False(string.IsNullOrWhiteSpace(error.GetString()));
            var again = await raw.InvokeAsync("again", "JoinRoom", """["elsewhere"]""");
            Assert.NotNull(again);
            Assert.True(again.RootElement.TryGetProperty("result", out _), again.RootElement.GetRawText());
        }
        else
        {
            Assert.True(answer is null || RawHubSocket.IsClose(answer), answer?.RootElement.GetRawText());
            Assert.Null(await raw.ReceiveAsync(_ => false));
            Assert.NotEqual(WebSocketState.Open, raw.State);
        }

        var final = await bobLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Equal(final.Text, bobLog.TextOf(reply.GenerationId));
        StreamingTests.AssertContiguous(bobLog.Events.Where(e => e.Seq > joined.LastSeq).ToList(), joined.LastSeq);

        // The service takes new connections as before.
        var carol = await server.ConnectAsync("carol");
        await carol.JoinRoomAsync("stream");
        Assert.False(string.IsNullOrEmpty((await carol.SendMessageAsync("stream", "all good?")).GenerationId));
    }

    private static async Task<JsonDocument?> SendAttackAsync(RawHubSocket raw, string attack)
    {
        static bool Answer(JsonDocument m) => RawHubSocket.IsCompletion(m, "attack") || RawHubSocket.IsClose(m);

        switch (attack)
        {
            case "garbage":
                await raw.SendTextAsync("this is not json {{{" + RS);
                break;
            case "unknown-method":
                return await raw.InvokeAsync("attack", "DropAllTables", """["stream"]""");
            case "wrong-argument-types":
                return await raw.InvokeAsync("attack", "SendMessage", """[{"roomId":"stream"},[1,2,3]]""");
            case "too-few-arguments":
                return await raw.InvokeAsync("attack", "CancelGeneration", "[]");
            case "deep-nesting":
                return await raw.InvokeAsync("attack", "SendMessage", "[\"stream\"," + new string('[', 5_000) + new string(']', 5_000) + "]");
            case "oversized-frame":
                // 600 KiB without a record separator: more than the 512 KiB a message may have.
                await raw.SendAsync(Encoding.UTF8.GetBytes("{\"type\":1,\"target\":\"SendMessage\",\"arguments\":[\"stream\",\"" + new string('x', 600 * 1024)), WebSocketMessageType.Text);
                break;
            case "over-long-text":
                return await raw.InvokeAsync("attack", "SendMessage", "[\"stream\",\"" + new string('x', 400 * 1024) + "\"]");
            case "invalid-utf8-text-frame":
                await raw.SendAsync([.. Encoding.UTF8.GetBytes("{\"type\":1,\"invocationId\":\"attack\",\"target\":\"SendMessage\",\"arguments\":[\"stream\",\""), 0xC3, 0x28, 0xFF, .. Encoding.UTF8.GetBytes("\"]}" + RS)], WebSocketMessageType.Text);
                break;
            case "invalid-utf8-binary-frame":
                await raw.SendAsync([.. Encoding.UTF8.GetBytes("{\"type\":1,\"invocationId\":\"attack\",\"target\":\"SendMessage\",\"arguments\":[\"stream\",\""), 0xED, 0xA0, 0x80, 0xFE, .. Encoding.UTF8.GetBytes("\"]}" + RS)], WebSocketMessageType.Binary);
                break;
            case "unknown-message-type":
                await raw.SendTextAsync("""{"type":99,"invocationId":"attack","target":"SendMessage","arguments":["stream","hi"]}""" + RS);
                return await UnknownTypeAnswerAsync(raw);
            case "completion-for-nothing":
                await raw.SendTextAsync("""{"type":3,"invocationId":"nobody-asked","result":42}""" + RS);
                return await raw.InvokeAsync("attack", "DropAllTables", "[]");
            case "no-target":
                return await raw.InvokeAsync("attack", "", """["stream","hi"]""");
            case "empty-records":
                await raw.SendTextAsync(new string(RS, 1_000));
                return await raw.InvokeAsync("attack", "DropAllTables", "[]");
            default:
                throw new ArgumentOutOfRangeException(nameof(attack), attack, null);
        }

        return await raw.ReceiveAsync(Answer);
    }

    // An unknown message type is skipped (forward compatibility); the sender's next call is answered as usual.
    private static async Task<JsonDocument?> UnknownTypeAnswerAsync(RawHubSocket raw) =>
        raw.State == WebSocketState.Open ? await raw.InvokeAsync("attack", "DropAllTables", "[]") : null;
}
