using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Dropped members come back with exactly the text everyone else has: no gap, no duplicate.</summary>
public sealed class ResumeTests
{
    private static readonly Dictionary<string, string?> MediumReplies = new()
    {
        ["Chat:Offline:TokenDelayMs"] = "5",
        ["Chat:Offline:ReplyTokens"] = "300",
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_member_whose_connection_drops_mid_reply_reconnects_resumes_and_ends_with_the_same_text(bool networkDrop)
    {
        await using var server = await ChatServer.StartAsync(MediumReplies);
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        await alice.JoinRoomAsync("drop");
        var bobSnapshot = await bob.JoinRoomAsync("drop");
        var states = new List<HubConnectionState>();
        bob.StateChanged += s =>
        {
            lock (states)
            {
                states.Add(s);
            }
        };

        var reply = await alice.AskAsync("drop", "a long story");
        await bobLog.WaitForTokensAsync(reply.GenerationId, 20);
        var before = bob.Connection.ConnectionId!;
        var connection = server.Services.GetRequiredService<ConnectionRegistry>().Find(before)!.Connection;
        if (networkDrop)
        {
            // The socket goes away under the connection, as when Wi-Fi drops.
            connection.Features.Get<IHttpContextFeature>()!.HttpContext!.Abort();
        }
        else
        {
            // The server closes the connection (as it does to a reader too far behind).
            connection.Abort();
        }

        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(aliceFinal.Text, bobLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Seq, bobFinal.Seq);
        StreamingTests.AssertContiguous(bobLog.Events, bobSnapshot.LastSeq);
        lock (states)
        {
            // A dropped socket is bridged by stateful reconnect without a visible state change;
            // a closed connection shows "reconnecting" and comes back.
            if (!networkDrop)
            {
                Assert.Contains(HubConnectionState.Reconnecting, states);
                Assert.Equal(HubConnectionState.Connected, states[^1]);
            }
        }

        Assert.Equal(HubConnectionState.Connected, bob.State);
    }

    [Fact]
    public async Task Resume_on_a_new_connection_resends_what_was_missed_then_follows_live_with_no_gap_or_duplicate()
    {
        await using var server = await ChatServer.StartAsync(MediumReplies);
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("resume");
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "bob");
        var phone = new ChatClient(server.Url, session.Token);
        await phone.StartAsync();
        var phoneLog = new EventLog(phone);
        var snapshot = await phone.JoinRoomAsync("resume");

        var reply = await alice.AskAsync("resume", "keep going");
        await phoneLog.WaitForTokensAsync(reply.GenerationId, 10);
        var seenSeq = phone.LastSeq("resume");
        await phone.DisposeAsync();
        await aliceLog.WaitForTokensAsync(reply.GenerationId, 60);

        // The same user comes back on another device, from the last seq the first one saw.
        await using var laptop = new ChatClient(server.Url, session.Token);
        await laptop.StartAsync();
        var laptopLog = new EventLog(laptop);
        var resumed = await laptop.ResumeAsync("resume", seenSeq);

        Assert.False(resumed.Reset);
        Assert.Equal(seenSeq + 1, resumed.FromSeq);
        var final = await laptopLog.WaitForFinalAsync(reply.GenerationId);
        var whole = phoneLog.Events.Concat(laptopLog.Events).ToList();
        StreamingTests.AssertContiguous(whole, snapshot.LastSeq);
        Assert.Equal(final.Text, phoneLog.TextOf(reply.GenerationId) + laptopLog.TextOf(reply.GenerationId));
        Assert.Equal((await aliceLog.WaitForFinalAsync(reply.GenerationId)).Text, final.Text);
    }

    [Fact]
    public async Task Resume_from_a_seq_older_than_the_log_keeps_says_reset_and_the_client_joins_again()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Rooms:EventLogSize"] = "10" });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("short-memory");
        var reply = await alice.AskAsync("short-memory", "hello");
        await log.WaitForFinalAsync(reply.GenerationId);
        RoomSnapshot? rejoined = null;
        alice.RoomReset += s => rejoined = s;

        var result = await alice.ResumeAsync("short-memory", 1);

        Assert.True(result.Reset);
        Assert.NotNull(rejoined);
        Assert.Equal(result.ToSeq, rejoined.LastSeq);
        Assert.Contains(rejoined.Messages, m => m.Role == MessageRoles.Assistant && m.State == MessageStates.Completed);
    }

    [Fact]
    public async Task A_member_that_stops_reading_gets_the_missed_deltas_joined_into_fewer_events_with_the_same_text()
    {
        // More of Bob's deltas than the kernel can hold for his socket (its largest send buffer, at about 100 bytes a
        // delta, plus his 4 KiB and the server's pipe): whatever the machine, his writes back up into his queue.
        var replyTokens = (int)Math.Min(100_000, (LargestSendBuffer() + 2 * 1024 * 1024) / 100);
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            // Every delta its own event in the room's log, so that what joins them is the slow reader's queue.
            ["Chat:Fanout:JoinGap"] = "0",
            ["Chat:Offline:TokenDelayMs"] = "0",
            ["Chat:Offline:ReplyTokens"] = replyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Chat:Model:MaxOutputTokens"] = (replyTokens + 2_000).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Chat:Fanout:MaxQueuedEventsPerConnection"] = "1000",
        });
        using var metrics = new MetricRecorder(server.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("slow");

        // Bob's client reads through a 4 KiB socket buffer and stops reading at his first token.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var bob = await StalledReaderAsync(server, "bob", gate.Task);
        var bobLog = new EventLog(bob);
        var snapshot = await bob.JoinRoomAsync("slow");

        var reply = await alice.AskAsync("slow", "flood me");
        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));
        gate.SetResult();
        var bobFinal = await bobLog.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));

        var bobTokens = bobLog.Events.OfType<TokenEvent>().ToList();
        Assert.Equal(aliceFinal.Text, bobFinal.Text);
        Assert.Equal(aliceFinal.Text, string.Concat(bobTokens.Select(t => t.Text)));
        Assert.Contains(bobTokens, t => t.FirstSeq is not null);
        Assert.True(bobTokens.Count < replyTokens, $"{bobTokens.Count} token events: nothing was joined");
        Assert.True(metrics.Sum("signalrchat.fanout.coalesced_tokens") >= replyTokens - bobTokens.Count, "the joined deltas were not all counted");
        StreamingTests.AssertContiguous(bobLog.Events, snapshot.LastSeq);
        Assert.Equal(HubConnectionState.Connected, bob.State);
    }

    /// <summary>The most a TCP socket's send buffer grows to here (<c>net.ipv4.tcp_wmem</c>'s last figure), 4 MiB where it cannot be read.</summary>
    private static long LargestSendBuffer()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/tcp_wmem").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(fields[^1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 4 * 1024 * 1024;
        }
    }

    /// <summary>A real client that reads through a 4 KiB socket buffer and, at its first token, stops reading until <paramref name="gate"/> opens.</summary>
    internal static async Task<ChatClient> StalledReaderAsync(ChatServer server, string name, Task gate)
    {
        var session = await ChatClient.SignInAsGuestAsync(server.Url, name);
        var client = new ChatClient(server.Url, session.Token, builder => builder.WithUrl(new Uri(server.Url, ChatProtocol.HubPath), options =>
        {
            options.AccessTokenProvider = () => Task.FromResult<string?>(session.Token);
            options.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets;
            options.SkipNegotiation = true;
            options.TransportMaxBufferSize = 4096;
            options.WebSocketFactory = SmallBufferWebSocketAsync;
        }));
        await client.StartAsync();
        var blocked = 0;
        client.Connection.On<TokenEvent>(ChatProtocol.Events.Token, async _ =>
        {
            if (Interlocked.Exchange(ref blocked, 1) == 0)
            {
                await gate;
            }
        });
        return client;
    }

    private static async ValueTask<System.Net.WebSockets.WebSocket> SmallBufferWebSocketAsync(WebSocketConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new System.Net.WebSockets.ClientWebSocket();
        foreach (var header in context.Options.Headers)
        {
            socket.Options.SetRequestHeader(header.Key, header.Value);
        }

        var token = context.Options.AccessTokenProvider is { } provider ? await provider() : null;
        if (token is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }

        socket.Options.SetBuffer(4096, 4096);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (connect, ct) =>
            {
                var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096, NoDelay = true };
                await tcp.ConnectAsync(connect.DnsEndPoint, ct);
                return new NetworkStream(tcp, ownsSocket: true);
            },
        };
        await socket.ConnectAsync(context.Uri, new HttpMessageInvoker(handler, disposeHandler: false), cancellationToken);
        return socket;
    }
}
