using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// The part of a SignalR backplane this service uses: a message to a user (<c>Clients.User</c>)
/// reaches that user's connections on every node. Each node subscribes to a user's channel (sharded
/// pub/sub) while it holds at least one of that user's connections, so the cost is one subscription
/// per user present on a node, not one per connection as with the stock Redis backplane. Everything
/// else (a connection, a group, everyone) stays on this node: room events travel on the rooms' own
/// channels with a seq, which a backplane message cannot carry in order.
/// </summary>
internal sealed class UserBackplane<THub>(DefaultHubLifetimeManager<THub> local, IConnectionMultiplexer redis, ILogger<UserBackplane<THub>> logger)
    : HubLifetimeManager<THub>
    where THub : Hub
{
    private readonly ConcurrentDictionary<string, UserChannel> _users = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Users with a channel subscribed on this node.</summary>
    public int SubscribedUsers => _users.Count;

    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        await local.OnConnectedAsync(connection);
        if (connection.UserIdentifier is not { } userId)
        {
            return;
        }

        Task subscribed;
        lock (_lock)
        {
            var user = _users.GetOrAdd(userId, static _ => new UserChannel());
            user.Connections++;
            subscribed = user.Subscribed ??= SubscribeAsync(userId);
        }

        try
        {
            await subscribed;
        }
        catch (Exception ex) when (RedisScriptInvoker.IsUnreachable(ex))
        {
            // The connection works on this node; messages from other nodes reach it once Redis is back and it reconnects.
            lock (_lock)
            {
                if (_users.TryGetValue(userId, out var user) && user.Subscribed == subscribed)
                {
                    user.Subscribed = null;
                }
            }
        }
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        await local.OnDisconnectedAsync(connection);
        if (connection.UserIdentifier is not { } userId)
        {
            return;
        }

        var last = false;
        lock (_lock)
        {
            if (_users.TryGetValue(userId, out var user) && --user.Connections <= 0)
            {
                _users.TryRemove(userId, out _);
                last = true;
            }
        }

        if (last)
        {
            await ((Task)redis.GetSubscriber().UnsubscribeAsync(Channel(userId))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public override async Task SendUserAsync(string userId, string methodName, object?[] args, CancellationToken cancellationToken = default)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel(userId), Envelope.Write(methodName, args));
        }
        catch (Exception ex) when (RedisScriptInvoker.IsUnreachable(ex))
        {
            // Redis is away: at least this node's connections of the user get it.
            RedisLog.UserMessageLocalOnly(logger, methodName, ex.GetType().Name);
            await local.SendUserAsync(userId, methodName, args, cancellationToken);
        }
    }

    public override async Task SendUsersAsync(IReadOnlyList<string> userIds, string methodName, object?[] args, CancellationToken cancellationToken = default)
    {
        foreach (var userId in userIds)
        {
            await SendUserAsync(userId, methodName, args, cancellationToken);
        }
    }

    public override Task SendAllAsync(string methodName, object?[] args, CancellationToken cancellationToken = default) => local.SendAllAsync(methodName, args, cancellationToken);

    public override Task SendAllExceptAsync(string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        local.SendAllExceptAsync(methodName, args, excludedConnectionIds, cancellationToken);

    public override Task SendConnectionAsync(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        local.SendConnectionAsync(connectionId, methodName, args, cancellationToken);

    public override Task SendConnectionsAsync(IReadOnlyList<string> connectionIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        local.SendConnectionsAsync(connectionIds, methodName, args, cancellationToken);

    public override Task SendGroupAsync(string groupName, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        local.SendGroupAsync(groupName, methodName, args, cancellationToken);

    public override Task SendGroupsAsync(IReadOnlyList<string> groupNames, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        local.SendGroupsAsync(groupNames, methodName, args, cancellationToken);

    public override Task SendGroupExceptAsync(string groupName, string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        local.SendGroupExceptAsync(groupName, methodName, args, excludedConnectionIds, cancellationToken);

    public override Task AddToGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        local.AddToGroupAsync(connectionId, groupName, cancellationToken);

    public override Task RemoveFromGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        local.RemoveFromGroupAsync(connectionId, groupName, cancellationToken);

    private static RedisChannel Channel(string userId) => RedisChannel.Sharded($"chat:{{user:{userId}}}:messages");

    private async Task SubscribeAsync(string userId)
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(Channel(userId));
        queue.OnMessage(async message =>
        {
            try
            {
                var (method, args) = Envelope.Read((string)message.Message!);
                await local.SendUserAsync(userId, method, args);
            }
            catch (Exception ex)
            {
                RedisLog.BadUserMessage(logger, ex);
            }
        });
    }

    private sealed class UserChannel
    {
        public int Connections { get; set; }

        public Task? Subscribed { get; set; }
    }

    /// <summary>
    /// A user message on the wire: the method and each argument as its contract type and JSON, so the
    /// receiving node sends the same typed records through every hub protocol (JSON and MessagePack).
    /// Only types of the contract assembly (and plain JSON values) are accepted.
    /// </summary>
    internal static class Envelope
    {
        public static string Write(string method, object?[] args) => JsonSerializer.Serialize(new Message(method,
            args.Select(a => a is null ? new Argument(null, "null") : new Argument(a.GetType().FullName, JsonSerializer.Serialize(a, a.GetType(), ChatJson.Options))).ToList()),
            ChatJson.Options);

        public static (string Method, object?[] Args) Read(string payload)
        {
            var message = JsonSerializer.Deserialize<Message>(payload, ChatJson.Options) ?? throw new JsonException("an empty user message");
            var args = message.Args.Select(a =>
            {
                var type = a.Type is null ? null : typeof(RoomEvent).Assembly.GetType(a.Type);
                return type is null
                    ? JsonSerializer.Deserialize<JsonElement>(a.Json, ChatJson.Options)
                    : JsonSerializer.Deserialize(a.Json, type, ChatJson.Options);
            }).ToArray();
            return (message.Method, args);
        }

        private sealed record Message(string Method, List<Argument> Args);

        private sealed record Argument(string? Type, string Json);
    }
}
