using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Hubs;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// <c>tokens=compact</c>: a connection that asks gets each delta as <c>t(roomNumber, seq, text)</c> or, joined,
/// <c>tr(roomNumber, seq, text, firstSeq)</c>, its room named by the number <c>rn(roomId, roomNumber)</c> announced
/// before; one that does not gets the contract's <c>token</c>; the clients put the room's and the running
/// reply's ids back, so the story reads the same.
/// </summary>
public sealed class CompactTokenTests
{
    private static readonly Dictionary<string, string?> Short = new() { ["Chat:Offline:TokenDelayMs"] = "2", ["Chat:Offline:ReplyTokens"] = "40" };

    [Theory]
    [InlineData("json")]
    [InlineData("messagepack")]
    public async Task A_compact_member_gets_t_frames_and_a_contract_member_token_events_in_the_same_room(string protocol)
    {
        await using var server = await ChatServer.StartAsync(Short);
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("compact");
        await using var lean = await WireMember.ConnectAsync(server, "lean", compact: true, protocol);
        await using var full = await WireMember.ConnectAsync(server, "full", compact: false, protocol);
        await lean.JoinAsync("compact");
        await full.JoinAsync("compact");

        var reply = await alice.AskAsync("compact", "hello there");
        var final = await reply.Completion.WaitAsync(EventLog.DefaultTimeout);
        var leanFinal = await lean.WaitForFinalAsync(1);
        var fullFinal = await full.WaitForFinalAsync(1);

        Assert.NotEmpty(lean.Frames);
        Assert.All(lean.Frames, f =>
        {
            Assert.True(f.Target is ChatProtocol.CompactEvents.Token or ChatProtocol.CompactEvents.TokenRun, f.Target);
            Assert.Equal("compact", f.RoomId);
            Assert.Null(f.GenerationId);
            Assert.Equal(f.Target == ChatProtocol.CompactEvents.TokenRun, f.FirstSeq is not null);
        });
        Assert.All(full.Frames, f =>
        {
            Assert.Equal(ChatProtocol.Events.Token, f.Target);
            Assert.Equal(reply.GenerationId, f.GenerationId);
        });
        Assert.Equal(final.Text, string.Concat(lean.Frames.Select(f => f.Text)));
        Assert.Equal(final.Text, string.Concat(full.Frames.Select(f => f.Text)));
        Assert.Equal(Covered(full.Frames), Covered(lean.Frames));

        // Every other event keeps its contract shape: the final status names its generation and carries the text.
        Assert.Equal(reply.GenerationId, leanFinal.GenerationId);
        Assert.Equal(final.Text, leanFinal.Text);
        Assert.Equal(final.Seq, leanFinal.Seq);
        Assert.Equal(fullFinal, leanFinal);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("messagepack")]
    public async Task A_joined_run_goes_to_a_compact_member_as_tr_with_its_first_seq(string protocol)
    {
        // A run of deltas is joined for a reader that fell behind; here the run is handed to each member's
        // sender directly, so both get it whatever the machine's pace, in the shape each asked for.
        await using var server = await ChatServer.StartAsync(Short);
        await using var lean = await WireMember.ConnectAsync(server, "lean", compact: true, protocol);
        await using var full = await WireMember.ConnectAsync(server, "full", compact: false, protocol);
        var snapshot = await lean.JoinAsync("joined");
        await full.JoinAsync("joined");

        var run = new OutgoingEvent(new TokenEvent("joined", "g-run", "three joined deltas") { Seq = snapshot.LastSeq + 9, FirstSeq = snapshot.LastSeq + 7 }, await lean.NumberOfAsync("joined"));
        foreach (var sender in server.Services.GetRequiredService<ConnectionRegistry>().All)
        {
            sender.Deliver(run);
        }

        var compact = await lean.WaitForFrameAsync(1);
        var contract = await full.WaitForFrameAsync(1);
        Assert.Equal(new Frame(ChatProtocol.CompactEvents.TokenRun, "joined", snapshot.LastSeq + 9, "three joined deltas", snapshot.LastSeq + 7, null), compact);
        Assert.Equal(new Frame(ChatProtocol.Events.Token, "joined", snapshot.LastSeq + 9, "three joined deltas", snapshot.LastSeq + 7, "g-run"), contract);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("messagepack")]
    public async Task Resume_re_sends_the_deltas_to_a_compact_member_in_the_compact_shape(string protocol)
    {
        await using var server = await ChatServer.StartAsync(Short);
        var alice = await server.ConnectAsync("alice");
        await alice.JoinRoomAsync("again");
        await using var lean = await WireMember.ConnectAsync(server, "lean", compact: true, protocol);
        var snapshot = await lean.JoinAsync("again");

        var reply = await alice.AskAsync("again", "hello");
        var final = await reply.Completion.WaitAsync(EventLog.DefaultTimeout);
        await lean.WaitForFinalAsync(1);
        var live = lean.Frames.Count;

        var resumed = await lean.Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, "again", snapshot.LastSeq);
        Assert.False(resumed.Reset);
        Assert.Equal(final.Seq, resumed.ToSeq);
        await lean.WaitForFinalAsync(2);
        var replayed = lean.Frames.Skip(live).ToList();
        Assert.All(replayed, f => Assert.Equal(ChatProtocol.CompactEvents.Token, f.Target));
        Assert.Equal(final.Text, string.Concat(replayed.Select(f => f.Text)));
        Assert.Equal(Covered(lean.Frames.Take(live).ToList()), Covered(replayed));
    }

    [Fact]
    public async Task An_unknown_tokens_value_closes_the_connection_with_an_error_naming_it_and_costs_nothing()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?> { ["Chat:Limits:MaxConnectionsPerUser"] = "1" });
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "odd");
        var odd = Build(server, session.Token, $"?{ChatProtocol.Query.Tokens}=tiny", "json");
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        odd.Closed += error =>
        {
            closed.TrySetResult(error);
            return Task.CompletedTask;
        };
        try
        {
            await odd.StartAsync();
        }
        catch (Exception error)
        {
            closed.TrySetResult(error);
        }

        var reason = await closed.Task.WaitAsync(EventLog.DefaultTimeout);
        Assert.NotNull(reason);
        Assert.Contains("'tokens' must be 'compact'", reason.Message);
        await odd.DisposeAsync();

        // The refused connection took no slot: the same user, with the one connection allowed, connects compact and chats.
        await using var client = new ChatClient(server.Url, session.Token, compactTokens: true);
        await client.StartAsync();
        var log = new EventLog(client);
        await client.JoinRoomAsync("after");
        var reply = await client.AskAsync("after", "hello");
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(final.Text, log.TextOf(reply.GenerationId));
    }

    [Theory]
    [InlineData("json")]
    [InlineData("messagepack")]
    public async Task The_dotnet_client_over_compact_tells_the_same_story_as_over_the_contract_joining_mid_reply_too(string protocol)
    {
        await using var server = await ChatServer.StartAsync(Short);
        Action<IHubConnectionBuilder>? configure = protocol == "messagepack"
            ? builder => builder.AddMessagePackProtocol(options => options.SerializerOptions = ContractMessagePack.Options)
            : null;
        var alice = await server.ConnectAsync("alice");
        var bob = await server.ConnectAsync("bob", omitFinalText: true, compactTokens: true, configure: configure);
        var carol = await server.ConnectAsync("carol", compactTokens: true, configure: configure);
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var carolLog = new EventLog(carol);
        await alice.JoinRoomAsync("story");
        var bobSnapshot = await bob.JoinRoomAsync("story");

        // A reply that waits for a member's approval: Carol comes in while it runs, before any of its deltas.
        var reply = await bob.AskAsync("story", "please set the topic to Compact frames");
        var pending = (ToolApprovalEvent)await aliceLog.WaitForAsync(e => e is ToolApprovalEvent { State: ApprovalStates.Pending });
        var carolSnapshot = await carol.JoinRoomAsync("story");
        Assert.Equal(reply.GenerationId, carolSnapshot.ActiveGeneration?.GenerationId);
        Assert.True(await alice.DecideToolCallAsync(pending.ApprovalId, approve: true));

        var aliceFinal = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var bobFinal = await reply.Completion.WaitAsync(EventLog.DefaultTimeout);
        var carolFinal = await carolLog.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, aliceFinal.State);
        Assert.NotEmpty(aliceLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Text, aliceLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Text, bobLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Text, bobFinal.Text);
        Assert.Equal(aliceFinal.Text, carolLog.TextOf(reply.GenerationId));
        Assert.Equal(aliceFinal.Text, carolFinal.Text);

        var streamed = new List<string>();
        await foreach (var token in reply.Tokens)
        {
            streamed.Add(token);
        }

        Assert.Equal(aliceFinal.Text, string.Concat(streamed));
        Assert.All(bobLog.Events.OfType<TokenEvent>().Concat(carolLog.Events.OfType<TokenEvent>()), t => Assert.Equal(reply.GenerationId, t.GenerationId));
        StreamingTests.AssertContiguous(bobLog.Events, bobSnapshot.LastSeq);
        StreamingTests.AssertContiguous(carolLog.Events, carolSnapshot.LastSeq);

        // The next reply, with no approval to wait for, is told the same way.
        var next = await alice.AskAsync("story", "and another thing");
        var nextFinal = await aliceLog.WaitForFinalAsync(next.GenerationId);
        Assert.Equal(nextFinal.Text, (await bobLog.WaitForFinalAsync(next.GenerationId)).Text);
        Assert.Equal(nextFinal.Text, bobLog.TextOf(next.GenerationId));
        Assert.Equal(nextFinal.Text, (await carolLog.WaitForFinalAsync(next.GenerationId)).Text);
        Assert.Equal(nextFinal.Text, carolLog.TextOf(next.GenerationId));
    }

    [Fact]
    public async Task Compact_deltas_with_no_running_reply_known_join_the_room_afresh_instead_of_being_text_of_the_wrong_reply()
    {
        await using var server = await ChatServer.StartAsync(Short);
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await alice.JoinRoomAsync("gap");
        var daveSession = await ChatClient.SignInAsGuestAsync(server.Url, "dave");
        await using (var first = new ChatClient(server.Url, daveSession.Token))
        {
            await first.StartAsync();
            await first.JoinRoomAsync("gap");
        }

        var reply = await alice.AskAsync("gap", "hello");
        var final = await aliceLog.WaitForFinalAsync(reply.GenerationId);
        var generating = aliceLog.Events.OfType<StatusEvent>().Single(s => s.GenerationId == reply.GenerationId && s.State == GenerationStates.Generating);

        // Dave's app comes back with a seq in the middle of the reply's deltas, past the status that named it.
        await using var dave = new ChatClient(server.Url, daveSession.Token, compactTokens: true);
        var daveLog = new EventLog(dave);
        var reset = new TaskCompletionSource<RoomSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        dave.RoomReset += snapshot => reset.TrySetResult(snapshot);
        await dave.StartAsync();
        await dave.ResumeAsync("gap", generating.Seq + 2);

        var snapshot = await reset.Task.WaitAsync(EventLog.DefaultTimeout);
        Assert.Null(snapshot.ActiveGeneration);
        Assert.Equal(final.Text, snapshot.Messages.Single(m => m.MessageId == final.MessageId).Text);
        Assert.DoesNotContain(daveLog.Events, e => e is TokenEvent);

        // From the fresh snapshot on, compact deltas belong to the reply their status named.
        var next = await alice.AskAsync("gap", "once more");
        var nextFinal = await daveLog.WaitForFinalAsync(next.GenerationId);
        Assert.Equal(nextFinal.Text, daveLog.TextOf(next.GenerationId));
        Assert.All(daveLog.Events.OfType<TokenEvent>(), t => Assert.Equal(next.GenerationId, t.GenerationId));
    }

    [Theory]
    [InlineData("json")]
    [InlineData("messagepack")]
    public async Task Rooms_are_numbered_before_their_first_delta_and_a_released_rooms_number_names_the_next_room_correctly(string protocol)
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>(Short) { ["Chat:Rooms:IdleTime"] = "00:00:00.2" });
        var alice = await server.ConnectAsync("alice");
        var aliceLog = new EventLog(alice);
        await using var lean = await WireMember.ConnectAsync(server, "lean", compact: true, protocol);
        await alice.JoinRoomAsync("first");
        await alice.JoinRoomAsync("second");
        await lean.JoinAsync("first");
        await lean.JoinAsync("second");
        var first = await lean.NumberOfAsync("first");
        var second = await lean.NumberOfAsync("second");
        Assert.NotEqual(first, second);
        Assert.All(new[] { first, second }, n => Assert.InRange(n, 1, 127));

        // Both rooms reply at once: each delta is placed in its own room by its number.
        var one = await alice.AskAsync("first", "hello first");
        var two = await alice.AskAsync("second", "hello second");
        var oneFinal = await aliceLog.WaitForFinalAsync(one.GenerationId);
        var twoFinal = await aliceLog.WaitForFinalAsync(two.GenerationId);
        await lean.WaitForFinalAsync(2);
        Assert.Equal(oneFinal.Text, string.Concat(lean.Frames.Where(f => f.RoomId == "first").Select(f => f.Text)));
        Assert.Equal(twoFinal.Text, string.Concat(lean.Frames.Where(f => f.RoomId == "second").Select(f => f.Text)));
        Assert.All(lean.Frames, f => Assert.True(f.RoomId is "first" or "second", f.RoomId));

        // Everyone leaves the first room; once the node has released it, its number is the lowest free one again,
        // and the next room the node takes up is given it, announced before that room's deltas.
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Services.GetRequiredService<RoomFanout>().Released += roomId =>
        {
            if (roomId == "first")
            {
                released.TrySetResult();
            }
        };
        await lean.Connection.InvokeAsync(ChatProtocol.Methods.LeaveRoom, "first");
        await alice.LeaveRoomAsync("first");
        await released.Task.WaitAsync(EventLog.DefaultTimeout);

        var frames = lean.Frames.Count;
        await alice.JoinRoomAsync("third");
        await lean.JoinAsync("third");
        Assert.Equal(first, await lean.NumberOfAsync("third"));
        var three = await alice.AskAsync("third", "hello third");
        var threeFinal = await aliceLog.WaitForFinalAsync(three.GenerationId);
        await lean.WaitForFinalAsync(3);
        var later = lean.Frames.Skip(frames).ToList();
        Assert.NotEmpty(later);
        Assert.All(later, f => Assert.Equal("third", f.RoomId));
        Assert.Equal(threeFinal.Text, string.Concat(later.Select(f => f.Text)));
    }

    private static SortedSet<long> Covered(IEnumerable<Frame> frames)
    {
        var covered = new SortedSet<long>();
        foreach (var frame in frames)
        {
            for (var seq = frame.FirstSeq ?? frame.Seq; seq <= frame.Seq; seq++)
            {
                Assert.True(covered.Add(seq), $"seq {seq} came twice");
            }
        }

        return covered;
    }

    private static HubConnection Build(ChatServer server, string token, string query, string protocol)
    {
        var builder = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Url, ChatProtocol.HubPath + query), options =>
            {
                options.AccessTokenProvider = () => Task.FromResult<string?>(token);
                options.Transports = HttpTransportType.WebSockets;
                options.SkipNegotiation = true;
            });
        if (protocol == "messagepack")
        {
            builder.AddMessagePackProtocol(options => options.SerializerOptions = ContractMessagePack.Options);
        }

        return builder.Build();
    }

    /// <summary>A token frame as it came: the target, its room, seq and text; firstSeq for a joined run; the generation only in the contract shape.</summary>
    private sealed record Frame(string Target, string RoomId, long Seq, string Text, long? FirstSeq, string? GenerationId);

    /// <summary>A stock SignalR connection that records the token frames and final statuses it receives, in order.</summary>
    private sealed class WireMember : IAsyncDisposable
    {
        private readonly Lock _lock = new();
        private readonly List<Frame> _frames = [];
        private readonly List<StatusEvent> _finals = [];
        private readonly Dictionary<int, string> _numbers = [];
        private readonly List<(string RoomId, int Number)> _announced = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private WireMember(HubConnection connection) => Connection = connection;

        public HubConnection Connection { get; }

        public IReadOnlyList<Frame> Frames
        {
            get
            {
                lock (_lock)
                {
                    return [.. _frames];
                }
            }
        }

        public static async Task<WireMember> ConnectAsync(ChatServer server, string name, bool compact, string protocol)
        {
            var session = await ChatClient.SignInAsGuestAsync(server.Url, name);
            var member = new WireMember(Build(server, session.Token, compact ? $"?{ChatProtocol.Query.Tokens}={ChatProtocol.Query.Compact}" : string.Empty, protocol));
            var connection = member.Connection;
            connection.On<string, int>(ChatProtocol.CompactEvents.RoomNumber, (roomId, number) => member.Announce(roomId, number));
            connection.On<int, long, string>(ChatProtocol.CompactEvents.Token, (number, seq, text) => member.Add(new Frame(ChatProtocol.CompactEvents.Token, member.RoomOf(number), seq, text, null, null)));
            connection.On<int, long, string, long>(ChatProtocol.CompactEvents.TokenRun, (number, seq, text, firstSeq) => member.Add(new Frame(ChatProtocol.CompactEvents.TokenRun, member.RoomOf(number), seq, text, firstSeq, null)));
            connection.On<TokenEvent>(ChatProtocol.Events.Token, e => member.Add(new Frame(ChatProtocol.Events.Token, e.RoomId, e.Seq, e.Text, e.FirstSeq, e.GenerationId)));
            connection.On<StatusEvent>(ChatProtocol.Events.Status, status =>
            {
                if (status.IsFinal)
                {
                    member.Add(status);
                }
            });
            await connection.StartAsync();
            return member;
        }

        public Task<RoomSnapshot> JoinAsync(string roomId) => Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, roomId);

        /// <summary>Every <c>rn</c> this member received, in order.</summary>
        public IReadOnlyList<(string RoomId, int Number)> Announced
        {
            get
            {
                lock (_lock)
                {
                    return [.. _announced];
                }
            }
        }

        /// <summary>
        /// The number the server last announced for the room, once it has: the stock client hands invocations to their
        /// handlers in order among themselves, but a hub method's result may reach the caller before them.
        /// </summary>
        public async Task<int> NumberOfAsync(string roomId)
        {
            using var timeout = new CancellationTokenSource(EventLog.DefaultTimeout);
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (_announced.FindLastIndex(a => a.RoomId == roomId) is var at and >= 0)
                    {
                        return _announced[at].Number;
                    }

                    changed = _changed.Task;
                }

                await changed.WaitAsync(timeout.Token);
            }
        }

        /// <summary>The room a compact frame's number names as the frame arrives; a number never announced shows as such.</summary>
        public string RoomOf(int number)
        {
            lock (_lock)
            {
                return _numbers.TryGetValue(number, out var roomId) ? roomId : $"(number {number} never announced)";
            }
        }

        public void Announce(string roomId, int number) => Changed(() =>
        {
            _numbers[number] = roomId;
            _announced.Add((roomId, number));
        });

        /// <summary>The <paramref name="count"/>th final status this member received.</summary>
        public Task<StatusEvent> WaitForFinalAsync(int count) => WaitForAsync(_finals, count);

        /// <summary>The <paramref name="count"/>th token frame this member received.</summary>
        public Task<Frame> WaitForFrameAsync(int count) => WaitForAsync(_frames, count);

        private async Task<T> WaitForAsync<T>(List<T> items, int count)
        {
            using var timeout = new CancellationTokenSource(EventLog.DefaultTimeout);
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (items.Count >= count)
                    {
                        return items[count - 1];
                    }

                    changed = _changed.Task;
                }

                await changed.WaitAsync(timeout.Token);
            }
        }

        public ValueTask DisposeAsync() => Connection.DisposeAsync();

        private void Add(Frame frame) => Changed(() => _frames.Add(frame));

        private void Add(StatusEvent status) => Changed(() => _finals.Add(status));

        private void Changed(Action change)
        {
            TaskCompletionSource changed;
            lock (_lock)
            {
                change();
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }
    }
}
