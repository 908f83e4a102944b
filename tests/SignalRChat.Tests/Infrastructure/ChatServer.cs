using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalRChat.Client;
using SignalRChat.Server;
using SignalRChat.Server.Fanout;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>The real service on Kestrel, on a free loopback port, in this process.</summary>
public sealed class ChatServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<ChatClient> _clients = [];

    private ChatServer(WebApplication app, Uri url, LogSink logs)
    {
        _app = app;
        Url = url;
        Logs = logs;
    }

    public Uri Url { get; }

    /// <summary>Every log line the server wrote, for tests that look for (or for the absence of) something.</summary>
    public LogSink Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Fast offline replies, the record in memory (no database file under the project), and no drain time on
    /// shutdown (a reply a test leaves running is stopped at once when the server is disposed), unless a test
    /// says otherwise (as those that try the drain do).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> Defaults = new Dictionary<string, string?>
    {
        ["Chat:Storage:Provider"] = "Memory",
        ["Chat:Offline:TokenDelayMs"] = "2",
        ["Chat:Offline:ReplyTokens"] = "20",
        ["Chat:Generation:DrainTime"] = "00:00:00",
    };

    /// <param name="settings">Configuration over <see cref="Defaults"/>.</param>
    /// <param name="environment">The hosting environment.</param>
    /// <param name="port">0 for a free port; a given one to start a server again where one was stopped.</param>
    public static async Task<ChatServer> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, string environment = "Development", int port = 0)
    {
        var args = new List<string> { "--urls", $"http://127.0.0.1:{port}", "--environment", environment, "--contentRoot", Paths.ServerProject };
        // A null value leaves the key unset, so the server's own default applies.
        foreach (var (key, value) in Defaults.Concat(settings ?? new Dictionary<string, string?>()).GroupBy(kv => kv.Key).Select(g => g.Last()).Where(kv => kv.Value is not null))
        {
            args.Add($"--{key}={value}");
        }

        var logs = new LogSink();
        var app = ChatApp.Build(args.ToArray(), builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddProvider(logs);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new ChatServer(app, new Uri(address), logs);
    }

    public HttpClient CreateHttpClient() => new() { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Signs in a guest and connects a real SignalR client.</summary>
    public async Task<ChatClient> ConnectAsync(string name, bool omitFinalText = false, bool compactTokens = false, Action<Microsoft.AspNetCore.SignalR.Client.IHubConnectionBuilder>? configure = null)
    {
        var client = await ChatClient.ConnectAsGuestAsync(Url, name, configure, omitFinalText: omitFinalText, compactTokens: compactTokens);
        lock (_clients)
        {
            _clients.Add(client);
        }

        return client;
    }

    /// <summary>Closes a user's hub connections from the server side (as a restart or a reader too far behind does); the clients start afresh.</summary>
    public void CloseConnectionsOf(string userId)
    {
        foreach (var sender in Services.GetRequiredService<ConnectionRegistry>().All.Where(c => c.Connection.UserIdentifier == userId))
        {
            sender.Connection.Abort();
        }
    }

    public void AbortConnectionsOf(string userId)
    {
        foreach (var sender in Services.GetRequiredService<ConnectionRegistry>().All.Where(c => c.Connection.UserIdentifier == userId))
        {
            // The transport is cut, not the hub connection closed: a closed hub connection tells the client not to come back.
            Microsoft.AspNetCore.SignalR.GetHttpContextExtensions.GetHttpContext(sender.Connection)?.Abort();
        }
    }

    /// <summary>The expiry of the token each live hub connection of a user signed in with.</summary>
    public IReadOnlyList<DateTime> TokenExpiriesOf(string userId) =>
        Services.GetRequiredService<ConnectionRegistry>().All.Where(c => c.Connection.UserIdentifier == userId)
            .Select(c => DateTime.UnixEpoch.AddSeconds(long.Parse(c.Connection.User.FindFirst("exp")!.Value, System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Collects the server's log lines.</summary>
public sealed class LogSink : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception)}");
    }
}

public static class Paths
{
    public static string Root { get; } = FindRoot();

    public static string ServerProject => Path.Combine(Root, "src", "SignalRChat.Server");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SignalRChat.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SignalRChat.sln not found above " + AppContext.BaseDirectory);
    }
}
