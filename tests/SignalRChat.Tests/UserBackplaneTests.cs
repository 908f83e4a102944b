using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Hubs;
using SignalRChat.Tests.Infrastructure;
using StackExchange.Redis;

namespace SignalRChat.Tests;

/// <summary>A message to a person reaches every one of their connections on every node, for one subscription per person on a node, not one per connection.</summary>
public sealed class UserBackplaneTests
{
    [Theory]
    [InlineData(IRedisDeployment.Single)]
    [InlineData(IRedisDeployment.Cluster)]
    public async Task A_message_to_a_user_reaches_their_devices_on_both_nodes_over_JSON_and_MessagePack(string deployment)
    {
        await using var redis = await IRedisDeployment.StartAsync(deployment);
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var session = await ChatClient.SignInAsGuestAsync(nodeA.Url, "alice");
        await using var laptop = await ConnectAsync(nodeA, session.Token, messagePack: false);
        await using var phone = await ConnectAsync(nodeB, session.Token, messagePack: true);

        await nodeA.Services.GetRequiredService<IHubContext<ChatHub>>().Clients.User(session.UserId).SendAsync("probe", new RoomMember("someone", "Someone"));

        Assert.Equal(new RoomMember("someone", "Someone"), await laptop.Received.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(new RoomMember("someone", "Someone"), await phone.Received.Task.WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Many_connections_of_one_user_cost_one_subscription_on_a_node_and_none_once_they_close()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await ChatServer.StartAsync(redis.NodeSettings());
        await using var probe = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var server = probe.GetServer(probe.GetEndPoints()[0]);
        var session = await ChatClient.SignInAsGuestAsync(node.Url, "alice");
        var before = await ChannelsAsync(server);

        var devices = new List<Listener>();
        for (var i = 0; i < 5; i++)
        {
            devices.Add(await ConnectAsync(node, session.Token, messagePack: i % 2 == 0));
        }

        var open = await ChannelsAsync(server);
        // One channel for the user, and none per connection.
        Assert.Single(open.Except(before));
        Assert.Contains(session.UserId, open.Except(before).Single(), StringComparison.Ordinal);

        foreach (var device in devices)
        {
            await device.DisposeAsync();
        }

        // The last connection's close is handled on the server after the client's close returns: wait for it.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while ((await ChannelsAsync(server)).Except(before).Any())
        {
            await Task.Delay(50, deadline.Token);
        }
    }

    [Fact]
    public async Task On_one_node_a_message_to_a_user_reaches_each_of_their_connections_and_nobody_else_and_the_node_forgets_them_once_they_close()
    {
        await using var node = await ChatServer.StartAsync();
        var users = node.Services.GetRequiredService<LocalHubLifetimeManager<ChatHub>>();
        var clients = node.Services.GetRequiredService<IHubContext<ChatHub>>().Clients;
        var alice = await ChatClient.SignInAsGuestAsync(node.Url, "alice");
        var bob = await ChatClient.SignInAsGuestAsync(node.Url, "bob");
        var laptop = await ConnectAsync(node, alice.Token, messagePack: false);
        var phone = await ConnectAsync(node, alice.Token, messagePack: true);
        await using var bobs = await ConnectAsync(node, bob.Token, messagePack: false);
        Assert.Equal(2, users.Users);

        await clients.User(alice.UserId).SendAsync("probe", new RoomMember("to", "alice"));
        Assert.Equal(new RoomMember("to", "alice"), await laptop.Received.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(new RoomMember("to", "alice"), await phone.Received.Task.WaitAsync(TimeSpan.FromSeconds(20)));

        // Bob's connection hears only what is sent to him: the first thing it receives is his own probe.
        await clients.User(bob.UserId).SendAsync("probe", new RoomMember("to", "bob"));
        Assert.Equal(new RoomMember("to", "bob"), await bobs.Received.Task.WaitAsync(TimeSpan.FromSeconds(20)));

        // One device closes: the other still hears her; once both have closed, nothing of her is kept.
        await laptop.DisposeAsync();
        await WaitUntilAsync(() => node.Services.GetRequiredService<ConnectionRegistry>().Count == 2);
        var again = new TaskCompletionSource<RoomMember>(TaskCreationOptions.RunContinuationsAsynchronously);
        phone.Connection.On<RoomMember>("probe", member => again.TrySetResult(member));
        await clients.User(alice.UserId).SendAsync("probe", new RoomMember("again", "alice"));
        Assert.Equal(new RoomMember("again", "alice"), await again.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        await phone.DisposeAsync();
        await WaitUntilAsync(() => users.Users == 1);
        await clients.User(alice.UserId).SendAsync("probe", new RoomMember("nobody", "alice"));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        // A connection's close is handled on the server after the client's close returns.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    private static async Task<HashSet<string>> ChannelsAsync(IServer server)
    {
        var plain = (RedisResult[])(await server.ExecuteAsync("PUBSUB", "CHANNELS"))!;
        var sharded = (RedisResult[])(await server.ExecuteAsync("PUBSUB", "SHARDCHANNELS"))!;
        return plain.Concat(sharded).Select(c => (string)c!).ToHashSet(StringComparer.Ordinal);
    }

    private static async Task<Listener> ConnectAsync(ChatServer server, string token, bool messagePack)
    {
        var builder = new HubConnectionBuilder().WithUrl(new Uri(server.Url, ChatProtocol.HubPath), options =>
        {
            options.AccessTokenProvider = () => Task.FromResult<string?>(token);
            options.Transports = HttpTransportType.WebSockets;
            options.SkipNegotiation = true;
        });
        if (messagePack)
        {
            builder.AddMessagePackProtocol(options => options.SerializerOptions = ContractMessagePack.Options);
        }

        var listener = new Listener(builder.Build());
        listener.Connection.On<RoomMember>("probe", member => listener.Received.TrySetResult(member));
        await listener.Connection.StartAsync();
        // The handshake is answered before the node has subscribed to the user's channel; a hub call is
        // only served once the connection's set-up (and so the subscription) is done.
        await listener.Connection.InvokeAsync<IReadOnlyList<RoomSummary>>(ChatProtocol.Methods.ListRooms);
        return listener;
    }

    private sealed class Listener(HubConnection connection) : IAsyncDisposable
    {
        public HubConnection Connection { get; } = connection;

        public TaskCompletionSource<RoomMember> Received { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }
}
