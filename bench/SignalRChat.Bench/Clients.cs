using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Hubs;

namespace SignalRChat.Bench;

/// <summary>The SignalR hub protocol a bench client speaks.</summary>
internal enum WireProtocol
{
    Json,

    /// <summary>With the server's own serializer options, so the contract records travel as the same camelCase maps.</summary>
    MessagePack,
}

/// <summary>How the bench's clients talk to one service (the chat service or the baseline), on one or more nodes.</summary>
internal abstract class ServiceUnderTest(string name, IReadOnlyList<Uri> nodes, WireProtocol protocol)
{
    protected static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Name { get; } = name;

    public IReadOnlyList<Uri> Nodes { get; } = nodes;

    public WireProtocol Protocol { get; } = protocol;

    public abstract string HubPath { get; }

    public async Task<Member> ConnectAsync(int node, string user)
    {
        var token = await TokenAsync(Nodes[node % Nodes.Count], user);
        var builder = new HubConnectionBuilder();
        if (Protocol == WireProtocol.MessagePack)
        {
            builder.AddMessagePackProtocol(options => options.SerializerOptions = ContractMessagePack.Options);
        }

        var connection = builder
            .WithUrl(new Uri(Nodes[node % Nodes.Count], HubPath.TrimStart('/')), options =>
            {
                options.SkipNegotiation = true;
                options.Transports = HttpTransportType.WebSockets;
                if (token is not null)
                {
                    options.AccessTokenProvider = () => Task.FromResult<string?>(token);
                }
            })
            .Build();
        var member = new Member(connection);
        Listen(member);
        await connection.StartAsync();
        return member;
    }

    /// <summary>A token for a raw WebSocket (the <c>access_token</c> query), or null when the service needs none.</summary>
    public abstract Task<string?> TokenAsync(Uri node, string user);

    public abstract Task JoinAsync(Member member, string room);

    /// <summary>Starts a reply in the room; returns its id.</summary>
    public abstract Task<string> StartAsync(Member member, string room, string request);

    public abstract Task<bool> CancelAsync(Member member, string id);

    protected abstract void Listen(Member member);
}

/// <summary>
/// The chat service's hub. With <paramref name="checkSeq"/> every member also checks its room's seq and collects each
/// delta's stamp (<see cref="SeqCheck"/>), for the runs that report it; without, a member only records what it receives,
/// as the bare hub's members do, so the bench's own checks are not counted against the service in the same process.
/// </summary>
internal sealed class ChatService(IReadOnlyList<Uri> nodes, string name = "chat", WireProtocol protocol = WireProtocol.Json, bool checkSeq = false)
    : ServiceUnderTest(name, nodes, protocol)
{
    public override string HubPath => ChatProtocol.HubPath;

    public override async Task<string?> TokenAsync(Uri node, string user)
    {
        using var response = await Http.PostAsJsonAsync(new Uri(node, "api/auth/guest"), new { name = user });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<GuestSession>())!.Token;
    }

    public override async Task JoinAsync(Member member, string room) => member.Joined(room, await member.Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, room));

    public override async Task<string> StartAsync(Member member, string room, string request) =>
        (await member.Connection.InvokeAsync<SendMessageResult>(ChatProtocol.Methods.SendMessage, room, request)).GenerationId
        ?? throw new InvalidOperationException("the message started no reply");

    public override Task<bool> CancelAsync(Member member, string id) => member.Connection.InvokeAsync<bool>(ChatProtocol.Methods.CancelGeneration, id);

    protected override void Listen(Member member)
    {
        if (!checkSeq)
        {
            member.Connection.On<TokenEvent>(ChatProtocol.Events.Token, e => member.OnToken(e.Text));
            member.Connection.On<StatusEvent>(ChatProtocol.Events.Status, e =>
            {
                if (e.IsFinal)
                {
                    member.OnFinal(e.State);
                }
            });
            return;
        }

        member.Connection.On<TokenEvent>(ChatProtocol.Events.Token, e =>
        {
            member.Seq.Saw(e, ChatProtocol.Events.Token);
            member.Seq.SawText(e.Text);
            member.OnToken(e.Text);
        });
        member.Connection.On<StatusEvent>(ChatProtocol.Events.Status, e =>
        {
            member.Seq.Saw(e, ChatProtocol.Events.Status);
            if (e.IsFinal)
            {
                member.Seq.SawFinal(e);
                member.OnFinal(e.State);
            }
        });
        member.Connection.On<MessageEvent>(ChatProtocol.Events.Message, e => member.Seq.Saw(e, ChatProtocol.Events.Message));
        member.Connection.On<PresenceEvent>(ChatProtocol.Events.Presence, e => member.Seq.Saw(e, ChatProtocol.Events.Presence));
        member.Connection.On<ToolProgressEvent>(ChatProtocol.Events.ToolProgress, e => member.Seq.Saw(e, ChatProtocol.Events.ToolProgress));
        member.Connection.On<RoomSettingsEvent>(ChatProtocol.Events.RoomSettings, e => member.Seq.Saw(e, ChatProtocol.Events.RoomSettings));
        member.Connection.On<ToolApprovalEvent>(ChatProtocol.Events.ToolApproval, e => member.Seq.Saw(e, ChatProtocol.Events.ToolApproval));
    }
}

internal sealed class BaselineService(IReadOnlyList<Uri> nodes, string name = "baseline", bool shaped = false, WireProtocol protocol = WireProtocol.Json, bool joined = false)
    : ServiceUnderTest(name, nodes, protocol)
{
    public override string HubPath => BaselineNode.HubPath;

    public override Task<string?> TokenAsync(Uri node, string user) => Task.FromResult<string?>(null);

    public override Task JoinAsync(Member member, string room) => member.Connection.InvokeAsync("Join", room);

    public override Task<string> StartAsync(Member member, string room, string request) =>
        member.Connection.InvokeAsync<string>(joined ? "StartJoined" : shaped ? "StartShaped" : "Start", room, request);

    public override Task<bool> CancelAsync(Member member, string id) => member.Connection.InvokeAsync<bool>("Cancel", id);

    protected override void Listen(Member member)
    {
        if (shaped)
        {
            member.Connection.On<TokenEvent>("token", e => member.OnToken(e.Text));
        }
        else
        {
            member.Connection.On<string>("token", member.OnToken);
        }

        member.Connection.On<string>("status", member.OnFinal);
    }
}

/// <summary>One real SignalR client; what it receives goes to the armed <see cref="Recorder"/>.</summary>
internal sealed class Member(HubConnection connection) : IAsyncDisposable
{
    private Recorder? _recorder;
    private TaskCompletionSource<string> _final = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _reachAt = int.MaxValue;
    private int _seen;
    private long _firstReceipt;

    public HubConnection Connection { get; } = connection;

    /// <summary>What this member saw of its room's seq (chat service only): holes, events out of order, disconnects.</summary>
    public SeqCheck Seq { get; } = new(connection);

    public void Joined(string room, RoomSnapshot snapshot) => Seq.Joined(room, snapshot.LastSeq);

    public Task<string> Final => _final.Task;

    /// <summary>Completes when the armed number of tokens has arrived.</summary>
    public Task Reached => _reached.Task;

    public long FirstReceipt => Interlocked.Read(ref _firstReceipt);

    public void Arm(Recorder recorder, int reachAt = int.MaxValue)
    {
        _recorder = recorder;
        _final = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reachAt = reachAt;
        _seen = 0;
        _firstReceipt = 0;
        Seq.Arm();
    }

    public void OnToken(string text)
    {
        Interlocked.CompareExchange(ref _firstReceipt, Stopwatch.GetTimestamp(), 0);
        var tokens = _recorder?.Receive(text) ?? 0;
        if (Interlocked.Add(ref _seen, tokens) >= _reachAt)
        {
            _reached.TrySetResult();
        }
    }

    public void OnFinal(string state) => _final.TrySetResult(state);

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}

/// <summary>
/// One member's view of its room's seq, checked as docs/protocol.md says a client checks it: a hole is an event whose
/// first covered seq (<c>firstSeq</c> for joined deltas) lies past the next one expected. Counted from <see cref="Arm"/>.
/// </summary>
internal sealed class SeqCheck
{
    private readonly Lock _lock = new();
    private readonly HashSet<long> _covered = [];
    private readonly Dictionary<string, int> _kinds = new(StringComparer.Ordinal);
    private long _position;
    private long _armedAt;
    private int _holes;
    private long _holeSeqs;
    private int _late;
    private int _duplicates;
    private int _disconnects;
    private readonly HashSet<string> _stamps = new(StringComparer.Ordinal);
    private StatusEvent? _final;
    private int _finalOnlyStamps;
    private int _afterFinal;

    public SeqCheck(HubConnection connection) => connection.Closed += _ =>
    {
        Interlocked.Increment(ref _disconnects);
        return Task.CompletedTask;
    };

    public string? Room { get; private set; }

    public void Joined(string room, long lastSeq)
    {
        lock (_lock)
        {
            Room = room;
            _position = Math.Max(_position, lastSeq);
        }
    }

    public void Arm()
    {
        lock (_lock)
        {
            _armedAt = _position;
            _covered.Clear();
            _kinds.Clear();
            _holes = 0;
            _holeSeqs = 0;
            _late = 0;
            _duplicates = 0;
            _stamps.Clear();
            _final = null;
            _finalOnlyStamps = 0;
            _afterFinal = 0;
            Interlocked.Exchange(ref _disconnects, 0);
        }
    }

    public void Saw(RoomEvent e, string kind)
    {
        lock (_lock)
        {
            _kinds[kind] = _kinds.GetValueOrDefault(kind) + 1;
            var first = e.FirstCoveredSeq;
            var isNew = false;
            for (var s = first; s <= e.Seq; s++)
            {
                isNew |= _covered.Add(s);
            }

            if (first > _position + 1)
            {
                _holes++;
                _holeSeqs += first - _position - 1;
            }
            else if (e.Seq <= _position)
            {
                if (isNew)
                {
                    _late++;
                }
                else
                {
                    _duplicates++;
                }
            }

            _position = Math.Max(_position, e.Seq);
        }
    }

    /// <summary>A token's text: its stamps, and whether it came after the reply's final status.</summary>
    public void SawText(string text)
    {
        lock (_lock)
        {
            _afterFinal += _final is null ? 0 : 1;
            foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (part[0] != 'r')
                {
                    _stamps.Add(part);
                }
            }
        }
    }

    public void SawFinal(StatusEvent final)
    {
        lock (_lock)
        {
            _final = final;
            _finalOnlyStamps = (final.Text ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(p => p[0] != 'r' && !_stamps.Contains(p));
        }
    }

    /// <summary>This member's figures since <see cref="Arm"/>; <c>Missing</c>: seqs up to the last one seen that never arrived.</summary>
    public SeqFigures Figures()
    {
        lock (_lock)
        {
            var missing = 0L;
            for (var s = _armedAt + 1; s <= _position; s++)
            {
                missing += _covered.Contains(s) ? 0 : 1;
            }

            var final = _final is null ? "none" : _final.State + (_final.Error is { } error ? $" ({error})" : string.Empty);
            return new SeqFigures(_holes, _holeSeqs, missing, _late, _duplicates, Volatile.Read(ref _disconnects), new Dictionary<string, int>(_kinds))
            {
                Final = final,
                FinalOnlyStamps = _finalOnlyStamps,
                TokensAfterFinal = _afterFinal,
            };
        }
    }
}

internal sealed record SeqFigures(int Holes, long HoleSeqs, long Missing, int Late, int Duplicates, int Disconnects, IReadOnlyDictionary<string, int> Kinds)
{
    /// <summary>The reply's final state (with its error), or "none".</summary>
    public string Final { get; init; } = "none";

    /// <summary>Deltas the final status's text holds that never came as a token event (before it).</summary>
    public int FinalOnlyStamps { get; init; }

    /// <summary>Token events that came after the reply's final status.</summary>
    public int TokensAfterFinal { get; init; }

    /// <summary>One line over every member of a load.</summary>
    public static string Summary(IReadOnlyList<SeqFigures> members)
    {
        var kinds = members.SelectMany(m => m.Kinds).GroupBy(k => k.Key).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} {g.Sum(k => k.Value)}");
        return $"seq check: {members.Count(m => m.Holes > 0)} of {members.Count} members saw a hole; {members.Sum(m => m.Holes)} holes, " +
               $"{members.Sum(m => m.HoleSeqs)} seqs skipped, {members.Sum(m => m.Missing)} never arrived, {members.Sum(m => m.Late)} arrived late, " +
               $"{members.Sum(m => m.Duplicates)} duplicates, {members.Sum(m => m.Disconnects)} disconnects; events: {string.Join(", ", kinds)}; " +
               $"finals: {string.Join(", ", members.GroupBy(m => m.Final).Select(g => $"{g.Key} {g.Count()}"))}; " +
               $"{members.Sum(m => m.FinalOnlyStamps)} deltas only in a final text, {members.Sum(m => m.TokensAfterFinal)} token events after a final status";
    }
}
