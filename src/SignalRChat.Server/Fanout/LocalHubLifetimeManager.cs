using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace SignalRChat.Server.Fanout;

/// <summary>
/// SignalR's in-memory lifetime manager with its connections also kept by user, so that a message to a
/// user (<c>Clients.User</c>: <c>roomActivity</c>, <c>invited</c>, <c>readMark</c>) is written to that user's
/// connections found at once. The stock manager looks at every connection of the node for each such
/// message: every message in a room told each of its members by a pass over the whole node, a cost that grew
/// with everyone connected rather than with the room. Most people have one connection, which is kept as is;
/// a second one (another device) makes a set.
/// </summary>
internal sealed class LocalHubLifetimeManager<THub>(ILogger<DefaultHubLifetimeManager<THub>> logger) : DefaultHubLifetimeManager<THub>(logger)
    where THub : Hub
{
    private readonly Dictionary<string, object> _users = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Users with at least one connection on this node.</summary>
    public int Users
    {
        get
        {
            lock (_lock)
            {
                return _users.Count;
            }
        }
    }

    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        await base.OnConnectedAsync(connection);
        if (connection.UserIdentifier is not { } userId)
        {
            return;
        }

        lock (_lock)
        {
            if (!_users.TryGetValue(userId, out var held))
            {
                _users[userId] = connection;
            }
            else if (held is HashSet<HubConnectionContext> set)
            {
                set.Add(connection);
            }
            else
            {
                _users[userId] = new HashSet<HubConnectionContext> { (HubConnectionContext)held, connection };
            }
        }
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        if (connection.UserIdentifier is { } userId)
        {
            lock (_lock)
            {
                if (_users.TryGetValue(userId, out var held))
                {
                    if (held == connection)
                    {
                        _users.Remove(userId);
                    }
                    else if (held is HashSet<HubConnectionContext> set && set.Remove(connection) && set.Count == 0)
                    {
                        _users.Remove(userId);
                    }
                }
            }
        }

        await base.OnDisconnectedAsync(connection);
    }

    public override Task SendUserAsync(string userId, string methodName, object?[] args, CancellationToken cancellationToken = default)
    {
        HubConnectionContext? single = null;
        HubConnectionContext[]? several = null;
        lock (_lock)
        {
            if (!_users.TryGetValue(userId, out var held))
            {
                return Task.CompletedTask;
            }

            if (held is HashSet<HubConnectionContext> set)
            {
                several = [.. set];
            }
            else
            {
                single = (HubConnectionContext)held;
            }
        }

        // Serialized once per protocol for all of the user's connections, as the stock manager does.
        var message = new SerializedHubMessage(new InvocationMessage(methodName, args));
        if (single is not null)
        {
            return single.WriteAsync(message, cancellationToken).AsTask();
        }

        List<Task>? pending = null;
        foreach (var connection in several!)
        {
            var write = connection.WriteAsync(message, cancellationToken);
            if (write.IsCompletedSuccessfully)
            {
                write.GetAwaiter().GetResult();
            }
            else
            {
                (pending ??= []).Add(write.AsTask());
            }
        }

        return pending is null ? Task.CompletedTask : Task.WhenAll(pending);
    }

    public override async Task SendUsersAsync(IReadOnlyList<string> userIds, string methodName, object?[] args, CancellationToken cancellationToken = default)
    {
        foreach (var userId in userIds)
        {
            await SendUserAsync(userId, methodName, args, cancellationToken);
        }
    }
}
