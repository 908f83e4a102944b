using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Fanout;

/// <summary>This node's live hub connections, so room events can be written to them directly.</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<string, ConnectionSender> _connections = new(StringComparer.Ordinal);
    private readonly IOptions<FanoutOptions> _options;
    private readonly ChatMetrics _metrics;
    private readonly ILogger<ConnectionSender> _logger;

    private readonly IServiceProvider _services;

    public ConnectionRegistry(IOptions<FanoutOptions> options, ChatMetrics metrics, ILogger<ConnectionSender> logger, IServiceProvider services)
    {
        _services = services;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        metrics.ObserveConnections(() => Count);
    }

    public int Count => _connections.Count;

    public void Add(HubConnectionContext connection)
    {
        var http = connection.GetHttpContext();
        var shape = http is null ? default : EventShape.Of(http.Request.Query);

        // The request of a hub connection lives as long as the connection. Its user stays; the
        // authentication result behind it (ticket, properties) is let go.
        if (http?.Features.Get<IHttpAuthenticationFeature>() is { User: { } user } authentication)
        {
            authentication.User = user;
        }

        _connections[connection.ConnectionId] = new ConnectionSender(connection, _options.Value.MaxQueuedEventsPerConnection, shape, _metrics, _logger);
    }

    /// <summary>
    /// The request of a hub connection lives as long as the connection, and with it the request's service scope: the
    /// authentication and authorization services and handlers that admitted it. Nothing of that scope is used once the
    /// connection is up (every hub call gets a scope of its own), so it is disposed now, and whatever reads the
    /// request's services later (the middleware unwinding when the socket closes) is given the application's.
    /// </summary>
    public async ValueTask ReleaseRequestScopeAsync(HubConnectionContext connection)
    {
        if (connection.GetHttpContext() is not { } http || http.Features.Get<IServiceProvidersFeature>() is not IAsyncDisposable scope)
        {
            return;
        }

        await scope.DisposeAsync();
        http.RequestServices = _services;
    }

    /// <summary>Raised after a connection closed, so the rooms it was in can let it go.</summary>
    public event Func<ConnectionSender, Task>? Disconnected;

    public async Task RemoveAsync(HubConnectionContext connection)
    {
        if (_connections.TryRemove(connection.ConnectionId, out var sender) && Disconnected is { } handlers)
        {
            foreach (var handler in handlers.GetInvocationList().Cast<Func<ConnectionSender, Task>>())
            {
                await handler(sender);
            }
        }
    }

    public ConnectionSender? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);

    public IEnumerable<ConnectionSender> All => _connections.Values;
}

/// <summary>Settings of section <c>Chat:Fanout</c>.</summary>
public sealed class FanoutOptions
{
    public const string Section = "Chat:Fanout";

    /// <summary>Events that may wait for a slow reader (after joining token deltas) before it is disconnected.</summary>
    public int MaxQueuedEventsPerConnection { get; set; } = 5_000;

    /// <summary>
    /// Token deltas of one reply that arrive within this window go out as one event (for the room, and
    /// so for every member and reader); <c>0</c> sends each delta at once. A model slower than the
    /// window is never held back.
    /// </summary>
    public TimeSpan DeliveryWindow { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// A delta that comes sooner than this after the reply's last write (a burst of chunks from one read,
    /// a model as fast as the machine) is written together with the deltas behind it, as one event;
    /// <c>0</c> writes every delta the model yields as its own event.
    /// </summary>
    public TimeSpan JoinGap { get; set; } = TimeSpan.FromMilliseconds(1);
}

/// <summary>
/// Wraps the configured lifetime manager (in-memory or the Redis backplane) to learn each
/// connection's <see cref="HubConnectionContext"/>; everything else is passed through.
/// </summary>
internal sealed class TrackingHubLifetimeManager<THub>(HubLifetimeManager<THub> inner, ConnectionRegistry registry) : HubLifetimeManager<THub>
    where THub : Hub
{
    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        registry.Add(connection);
        await inner.OnConnectedAsync(connection);
        await registry.ReleaseRequestScopeAsync(connection);
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        try
        {
            await registry.RemoveAsync(connection);
        }
        finally
        {
            await inner.OnDisconnectedAsync(connection);
        }
    }

    public override Task SendAllAsync(string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendAllAsync(methodName, args, cancellationToken);

    public override Task SendAllExceptAsync(string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        inner.SendAllExceptAsync(methodName, args, excludedConnectionIds, cancellationToken);

    public override Task SendConnectionAsync(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        inner.SendConnectionAsync(connectionId, methodName, args, cancellationToken);

    public override Task SendConnectionsAsync(IReadOnlyList<string> connectionIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        inner.SendConnectionsAsync(connectionIds, methodName, args, cancellationToken);

    public override Task SendGroupAsync(string groupName, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        inner.SendGroupAsync(groupName, methodName, args, cancellationToken);

    public override Task SendGroupsAsync(IReadOnlyList<string> groupNames, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        inner.SendGroupsAsync(groupNames, methodName, args, cancellationToken);

    public override Task SendGroupExceptAsync(string groupName, string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        inner.SendGroupExceptAsync(groupName, methodName, args, excludedConnectionIds, cancellationToken);

    public override Task SendUserAsync(string userId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        inner.SendUserAsync(userId, methodName, args, cancellationToken);

    public override Task SendUsersAsync(IReadOnlyList<string> userIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        inner.SendUsersAsync(userIds, methodName, args, cancellationToken);

    public override Task AddToGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        inner.AddToGroupAsync(connectionId, groupName, cancellationToken);

    public override Task RemoveFromGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        inner.RemoveFromGroupAsync(connectionId, groupName, cancellationToken);

    public override Task<T> InvokeConnectionAsync<T>(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken) =>
        inner.InvokeConnectionAsync<T>(connectionId, methodName, args, cancellationToken);

    public override Task SetConnectionResultAsync(string connectionId, Microsoft.AspNetCore.SignalR.Protocol.CompletionMessage result) =>
        inner.SetConnectionResultAsync(connectionId, result);

    public override bool TryGetReturnType(string invocationId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Type? type) =>
        inner.TryGetReturnType(invocationId, out type);
}
