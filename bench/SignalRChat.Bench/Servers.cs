using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.AI;
using SignalRChat.Server;
using SignalRChat.Server.Hubs;
using StackExchange.Redis;

namespace SignalRChat.Bench;

/// <summary>A server started in this process (a chat node, the baseline), on its loopback address, stopped when disposed.</summary>
internal sealed class RunningNode : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningNode(WebApplication app)
    {
        _app = app;
        Url = Address(app);
    }

    public Uri Url { get; }

    public static async Task<RunningNode> StartAsync(WebApplication app)
    {
        await app.StartAsync();
        return new RunningNode(app);
    }

    /// <summary>The address a started app listens on (with a trailing slash).</summary>
    public static Uri Address(WebApplication app)
    {
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new Uri(address.EndsWith('/') ? address : address + "/");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A node of the chat service in this process, on a free loopback port, with the bench model unless told otherwise.</summary>
internal static class ChatNode
{
    public const string SigningKey = "a-bench-signing-key-of-more-than-32-bytes";

    public static Task<RunningNode> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, string urls = "http://127.0.0.1:0") =>
        RunningNode.StartAsync(Build(settings, urls));

    public static WebApplication Build(IReadOnlyDictionary<string, string?>? settings, string urls, bool stats = false)
    {
        // No configuration file watcher: a bench node lives for seconds, and a watcher on the working directory only adds noise.
        var args = new List<string> { "--urls", urls, "--environment", "Production", "--contentRoot", AppContext.BaseDirectory, "--hostBuilder:reloadConfigOnChange=false", "--Chat:Auth:AllowGuests=true", $"--Chat:Auth:SigningKey={SigningKey}",
            // The record in memory unless a scenario names a database: a bench run leaves no file behind.
            "--Chat:Storage:Provider=Memory" };

        // The abuse limits opened wide: the bench signs in hundreds of guests from one address, sends far more than people do,
        // holds thousands of idle connections on one user and starts a reply in a hundred rooms at once; the baseline has no limits.
        args.AddRange(["--Chat:Limits:GuestSignInsPerMinute=0", "--Chat:Limits:MessagesPerMinute=1000000", "--Chat:Limits:DailyTokensPerUser=0", "--Chat:Limits:DailyTokensPerAddress=0",
            "--Chat:Limits:MaxConnectionsPerUser=1000000", "--Chat:Limits:MaxConcurrentGenerationsPerNode=1000", "--Chat:Limits:MaxQueuedGenerationsPerRoom=1000"]);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            args.Add($"--{key}={value}");
        }

        var useBenchModel = settings?.ContainsKey("Chat:Model:Provider") != true;
        return ChatApp.Build(args.ToArray(), builder =>
        {
            builder.Logging.ClearProviders();
            if (stats)
            {
                // A child's warnings and errors go to its parent, one line each, which prints a summary of them per load.
                builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter((category, level) => level >= LogLevel.Warning);
            }

            if (useBenchModel)
            {
                // Replaces the provider and its retry layers; tool calling stays as in the service.
                builder.Services.AddSingleton<IChatClient>(sp => new ChatClientBuilder(new BenchModel()).UseFunctionInvocation().Build(sp));
            }

            if (stats)
            {
                builder.Services.AddSingleton<IStartupFilter, StatsEndpoint>();
            }
        });
    }

}

/// <summary>
/// The baseline: a bare SignalR hub that streams the same model output to a group with
/// <c>Clients.Group(...).SendAsync</c>, one awaited send per token, and nothing else: no rooms,
/// seq, history, queue or generation bookkeeping. With Redis it uses the same backplane and
/// passes a Stop to the node running the stream over one pub/sub channel. Given an OpenAI-compatible
/// server (<c>wire</c>), it streams what that server streams, read through the OpenAI library.
/// </summary>
internal static class BaselineNode
{
    public const string HubPath = "/hubs/baseline";

    public static Task<RunningNode> StartAsync(string? redis = null, string urls = "http://127.0.0.1:0") =>
        RunningNode.StartAsync(Build(redis, urls));

    public static WebApplication Build(string? redis, string urls, bool stats = false, string? wire = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        builder.Logging.ClearProviders();
        // Both hub protocols, MessagePack with the chat service's options, so each protocol's rows compare like with like.
        var signalR = builder.Services.AddSignalR().AddMessagePackProtocol(options => options.SerializerOptions = ContractMessagePack.Options);
        if (redis is not null)
        {
            var multiplexer = ConnectionMultiplexer.Connect(redis);
            builder.Services.AddSingleton<IConnectionMultiplexer>(multiplexer);
            signalR.AddStackExchangeRedis(o => o.ConnectionFactory = _ => Task.FromResult<IConnectionMultiplexer>(multiplexer));
        }

        builder.Services.AddSingleton<BaselineRuns>();
        if (wire is not null)
        {
            // As the AIStreaming sample makes its client: the library's defaults, a key and (here) the server's address.
            var client = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential("bench-key"), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(wire) });
            builder.Services.AddSingleton(client.GetChatClient("wire"));
        }

        if (stats)
        {
            builder.Services.AddSingleton<IStartupFilter, StatsEndpoint>();
        }

        var app = builder.Build();
        app.MapHub<BaselineHub>(HubPath);
        app.Services.GetRequiredService<BaselineRuns>();
        return app;
    }
}

internal sealed class BaselineHub(BaselineRuns runs) : Hub
{
    /// <summary>The AIStreaming sample's event: <c>(name, id, the whole text so far)</c>.</summary>
    public const string WholeTextEvent = "newMessageWithId";

    public Task Join(string group) => Groups.AddToGroupAsync(Context.ConnectionId, group);

    public string Start(string group, string request) => runs.Start(group, request, shaped: false);

    /// <summary>The same stream with each token in the chat service's token event shape (room, generation, seq, text).</summary>
    public string StartShaped(string group, string request) => runs.Start(group, request, shaped: true);

    /// <summary>The same stream, with the tokens that wait while a send is under way joined into the next send, as the chat service joins waiting deltas.</summary>
    public string StartJoined(string group, string request) => runs.Start(group, request, shaped: false, joined: true);

    /// <summary>
    /// The AIStreaming sample's way (microsoft/SignalR-Samples-AI, <c>GroupChatHub.Chat</c>): the asker's message to the others
    /// in the group, then the model's text accumulated and, whenever it has grown by more than 20 characters since the last
    /// send, the whole text so far to the group as <see cref="WholeTextEvent"/>; the whole text once more at the end. The
    /// sample sends nothing after that; here a <c>status</c> follows, so a client knows the reply has ended.
    /// </summary>
    public async Task<string> StartWhole(string group, string request)
    {
        await Clients.OthersInGroup(group).SendAsync("NewMessage", "bench", request);
        return runs.Start(group, request, shaped: false, whole: true);
    }

    public Task<bool> Cancel(string id) => runs.CancelAsync(id);
}

internal sealed class BaselineRuns
{
    private const string CancelChannel = "bench-baseline-cancel";
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly IHubContext<BaselineHub> _hub;
    private readonly ISubscriber? _redis;
    private readonly OpenAI.Chat.ChatClient? _wire;

    public BaselineRuns(IHubContext<BaselineHub> hub, IServiceProvider services)
    {
        _hub = hub;
        _wire = services.GetService<OpenAI.Chat.ChatClient>();
        _redis = services.GetService<IConnectionMultiplexer>()?.GetSubscriber();
        _redis?.Subscribe(RedisChannel.Literal(CancelChannel), (_, id) => CancelLocal(id.ToString()));
    }

    public string Start(string group, string request, bool shaped, bool joined = false, bool whole = false)
    {
        var id = "g-" + Guid.NewGuid().ToString("N")[..16];
        var cancellation = new CancellationTokenSource();
        _running[id] = cancellation;
        _ = Task.Run(() => whole ? RunWholeAsync(id, group, request, cancellation.Token)
            : joined ? RunJoinedAsync(id, group, request, cancellation.Token) : RunAsync(id, group, request, shaped, cancellation.Token));
        return id;
    }

    /// <summary>The model's deltas: from the OpenAI-compatible server when there is one, else the bench model's.</summary>
    private IAsyncEnumerable<string> DeltasAsync(string request, CancellationToken cancellationToken) =>
        _wire is null ? BenchModel.StreamAsync(request, cancellationToken) : WireDeltasAsync(_wire, request, cancellationToken);

    private static async IAsyncEnumerable<string> WireDeltasAsync(OpenAI.Chat.ChatClient wire, string request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var completion in wire.CompleteChatStreamingAsync([new OpenAI.Chat.UserChatMessage(request)], cancellationToken: cancellationToken))
        {
            foreach (var content in completion.ContentUpdate)
            {
                yield return content.Text;
            }
        }
    }

    private async Task RunWholeAsync(string id, string group, string request, CancellationToken cancellationToken)
    {
        var state = "completed";
        var totalCompletion = new System.Text.StringBuilder();
        var lastSentTokenLength = 0;
        try
        {
            await foreach (var delta in DeltasAsync(request, cancellationToken))
            {
                totalCompletion.Append(delta);
                if (totalCompletion.Length - lastSentTokenLength > 20)
                {
                    await _hub.Clients.Group(group).SendAsync(BaselineHub.WholeTextEvent, "AI Assistant", id, totalCompletion.ToString(), CancellationToken.None);
                    lastSentTokenLength = totalCompletion.Length;
                }
            }
        }
        catch (OperationCanceledException)
        {
            state = "cancelled";
        }

        await _hub.Clients.Group(group).SendAsync(BaselineHub.WholeTextEvent, "AI Assistant", id, totalCompletion.ToString(), CancellationToken.None);
        _running.TryRemove(id, out _);
        await _hub.Clients.Group(group).SendAsync("status", state, CancellationToken.None);
    }

    private async Task RunJoinedAsync(string id, string group, string request, CancellationToken cancellationToken)
    {
        var waiting = System.Threading.Channels.Channel.CreateUnbounded<string>(new() { SingleReader = true, SingleWriter = true });
        var state = "completed";
        var model = Task.Run(async () =>
        {
            try
            {
                await foreach (var token in DeltasAsync(request, cancellationToken))
                {
                    waiting.Writer.TryWrite(token);
                }
            }
            catch (OperationCanceledException)
            {
                state = "cancelled";
            }
            finally
            {
                waiting.Writer.TryComplete();
            }
        }, CancellationToken.None);

        var joined = new System.Text.StringBuilder();
        while (await waiting.Reader.WaitToReadAsync(CancellationToken.None))
        {
            joined.Clear();
            while (waiting.Reader.TryRead(out var token))
            {
                joined.Append(token);
            }

            await _hub.Clients.Group(group).SendAsync("token", joined.ToString(), CancellationToken.None);
        }

        await model;
        _running.TryRemove(id, out _);
        await _hub.Clients.Group(group).SendAsync("status", state, CancellationToken.None);
    }

    public async Task<bool> CancelAsync(string id)
    {
        if (CancelLocal(id))
        {
            return true;
        }

        if (_redis is not null)
        {
            return await _redis.PublishAsync(RedisChannel.Literal(CancelChannel), id) > 0;
        }

        return false;
    }

    private bool CancelLocal(string id)
    {
        if (!_running.TryRemove(id, out var cancellation))
        {
            return false;
        }

        cancellation.Cancel();
        return true;
    }

    private async Task RunAsync(string id, string group, string request, bool shaped, CancellationToken cancellationToken)
    {
        var state = "completed";
        var seq = 0L;
        try
        {
            await foreach (var token in DeltasAsync(request, cancellationToken))
            {
                object payload = shaped ? new SignalRChat.Contracts.TokenEvent(group, id, token) { Seq = ++seq } : token;
                await _hub.Clients.Group(group).SendAsync("token", payload, CancellationToken.None);
            }
        }
        catch (OperationCanceledException)
        {
            state = "cancelled";
        }

        _running.TryRemove(id, out _);
        await _hub.Clients.Group(group).SendAsync("status", state, CancellationToken.None);
    }
}

/// <summary>For a server in a child process: <c>GET /bench/stats</c> collects garbage and answers the process's memory.</summary>
internal sealed class StatsEndpoint : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            if (context.Request.Path == "/bench/jit")
            {
                // Methods the JIT has compiled so far: a warm-up goes on until this stops growing.
                return context.Response.WriteAsync(System.Runtime.JitInfo.GetCompiledMethodCount().ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            if (context.Request.Path == "/bench/pool")
            {
                // Work items the thread pool has run so far: each is a hop from one thread to another.
                return context.Response.WriteAsync(ThreadPool.CompletedWorkItemCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            if (context.Request.Path != "/bench/stats")
            {
                return nextMiddleware(context);
            }

            for (var i = 0; i < 3; i++)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
            }

            // ?aggressive: also give the memory the collector keeps in reserve back to the system, so RSS shows what is held.
            if (context.Request.Query.ContainsKey("aggressive"))
            {
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }

            using var process = Process.GetCurrentProcess();
            return context.Response.WriteAsJsonAsync(new MemoryStats(process.WorkingSet64, GC.GetTotalMemory(false), GC.GetGCMemoryInfo().TotalCommittedBytes, process.Threads.Count));
        });
        next(app);
    };
}

/// <summary>A process's working set, its managed heap after collecting, and the memory the collector has committed (the rest of the working set is code and native memory).</summary>
internal sealed record MemoryStats(long WorkingSet, long ManagedHeap, long Committed = 0, int Threads = 0);
