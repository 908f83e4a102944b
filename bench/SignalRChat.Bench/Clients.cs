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

internal sealed class ChatService(IReadOnlyList<Uri> nodes, string name = "chat", WireProtocol protocol = WireProtocol.Json) : ServiceUnderTest(name, nodes, protocol)
{
    public override string HubPath => ChatProtocol.HubPath;

    public override async Task<string?> TokenAsync(Uri node, string user)
    {
        using var response = await Http.PostAsJsonAsync(new Uri(node, "api/auth/guest"), new { name = user });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<GuestSession>())!.Token;
    }

    public override Task JoinAsync(Member member, string room) => member.Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, room);

    public override async Task<string> StartAsync(Member member, string room, string request) =>
        (await member.Connection.InvokeAsync<SendMessageResult>(ChatProtocol.Methods.SendMessage, room, request)).GenerationId
        ?? throw new InvalidOperationException("the message started no reply");

    public override Task<bool> CancelAsync(Member member, string id) => member.Connection.InvokeAsync<bool>(ChatProtocol.Methods.CancelGeneration, id);

    protected override void Listen(Member member)
    {
        member.Connection.On<TokenEvent>(ChatProtocol.Events.Token, e => member.OnToken(e.Text));
        member.Connection.On<StatusEvent>(ChatProtocol.Events.Status, e =>
        {
            if (e.IsFinal)
            {
                member.OnFinal(e.State);
            }
        });
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
