using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SignalRChat.Tests.Providers;

/// <summary>
/// A small server speaking the OpenAI chat-completions wire format on a free loopback port: the
/// OpenAI route (<c>POST /v1/chat/completions</c>) and the Azure one
/// (<c>POST /openai/deployments/{deployment}/chat/completions?api-version=…</c>). Each test scripts
/// its answers in order; every request is recorded with its body and whether the caller hung up.
/// </summary>
public sealed class OpenAIWireServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<WireReply> _script = new();
    private readonly List<WireRequest> _requests = [];
    private readonly List<(int Count, TaskCompletionSource<WireRequest> Done)> _waiters = [];

    private OpenAIWireServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>The base to give as <c>Chat:OpenAI:Endpoint</c>.</summary>
    public string OpenAIEndpoint => new Uri(Url, "v1").ToString();

    /// <summary>When set, requests must carry this key (<c>Authorization: Bearer</c> or <c>api-key</c>), else 401.</summary>
    public string? RequiredKey { get; set; }

    /// <summary>When set, a request whose messages contain this text is refused with 400, as servers refuse input they cannot take.</summary>
    public string? RejectInputContaining { get; set; }

    /// <summary>The answer when the script has run out.</summary>
    public WireReply DefaultReply { get; set; } = WireReply.Text("Hello ", "from ", "the ", "wire.");

    public IReadOnlyList<WireRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToList();
            }
        }
    }

    public static async Task<OpenAIWireServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new OpenAIWireServer(app);
        app.MapPost("/v1/chat/completions", context => server.HandleAsync(context, deployment: null));
        app.MapPost("/openai/deployments/{deployment}/chat/completions", context => server.HandleAsync(context, (string?)context.Request.RouteValues["deployment"]));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        server.Url = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    public void Enqueue(params WireReply[] replies)
    {
        foreach (var reply in replies)
        {
            _script.Enqueue(reply);
        }
    }

    /// <summary>Waits until the <paramref name="count"/>-th request (1-based) has arrived.</summary>
    public Task<WireRequest> WaitForRequestAsync(int count, TimeSpan? timeout = null)
    {
        TaskCompletionSource<WireRequest> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_requests)
        {
            if (_requests.Count >= count)
            {
                return Task.FromResult(_requests[count - 1]);
            }

            _waiters.Add((count, done));
        }

        return done.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(20));
    }

    private async Task HandleAsync(HttpContext context, string? deployment)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        var request = new WireRequest(context.Request.Path, context.Request.QueryString.Value ?? string.Empty, deployment,
            context.Request.Headers.Authorization.ToString(), context.Request.Headers["api-key"].ToString(), body.RootElement.Clone());
        context.RequestAborted.Register(request.MarkClosedByCaller);
        lock (_requests)
        {
            _requests.Add(request);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_requests.Count >= _waiters[i].Count)
                {
                    _waiters[i].Done.TrySetResult(_requests[_waiters[i].Count - 1]);
                    _waiters.RemoveAt(i);
                }
            }
        }

        if (RequiredKey is not null && request.Authorization != "Bearer " + RequiredKey && request.ApiKeyHeader != RequiredKey)
        {
            // Like real servers, the error echoes (part of) what was presented, so a leak of it would show in the logs.
            var presented = request.ApiKeyHeader.Length > 0 ? request.ApiKeyHeader : request.Authorization.Replace("Bearer ", string.Empty, StringComparison.Ordinal);
            await WireReply.Status(401, $$$"""{"error":{"message":"Incorrect API key provided: {{{presented}}}","type":"invalid_request_error","code":"invalid_api_key"}}""")
                .WriteAsync(context, request);
            return;
        }

        if (RejectInputContaining is { } poison && body.RootElement.TryGetProperty("messages", out var messages)
            && messages.GetRawText().Contains(poison, StringComparison.Ordinal))
        {
            await WireReply.Status(400, """{"error":{"message":"Invalid 'messages': the input cannot be processed.","type":"invalid_request_error","code":"invalid_value"}}""")
                .WriteAsync(context, request);
            return;
        }

        var reply = _script.TryDequeue(out var next) ? next : DefaultReply;
        try
        {
            await reply.WriteAsync(context, request);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One request as the wire server saw it.</summary>
public sealed class WireRequest(string path, string query, string? deployment, string authorization, string apiKeyHeader, JsonElement body)
{
    private readonly TaskCompletionSource _closedByCaller = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Path { get; } = path;

    public string Query { get; } = query;

    public string? Deployment { get; } = deployment;

    public string Authorization { get; } = authorization;

    public string ApiKeyHeader { get; } = apiKeyHeader;

    public JsonElement Body { get; } = body;

    /// <summary>Completes when the caller closed the request before the answer ended.</summary>
    public Task ClosedByCaller => _closedByCaller.Task;

    public IReadOnlyList<JsonElement> Messages => Body.GetProperty("messages").EnumerateArray().ToList();

    public bool HasTools => Body.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0;

    internal void MarkClosedByCaller() => _closedByCaller.TrySetResult();
}

/// <summary>A scripted answer of the wire server.</summary>
public sealed class WireReply(Func<HttpContext, WireRequest, Task> write)
{
    public Task WriteAsync(HttpContext context, WireRequest request) => write(context, request);

    /// <summary>An error status with a JSON error body, as OpenAI sends them.</summary>
    public static WireReply Status(int status, string? body = null) => new(async (context, _) =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body ?? $$$"""{"error":{"message":"scripted status {{{status}}}","type":"server_error"}}""");
    });

    /// <summary>A streamed reply of these text deltas, a stop, and a usage chunk.</summary>
    public static WireReply Text(params string[] deltas) =>
        Stream([Chunks.Role(), .. deltas.Select(Chunks.Text), Chunks.Finish("stop"), Chunks.Usage(10, deltas.Length)]);

    /// <summary>These chunks as server-sent events, then <c>[DONE]</c>.</summary>
    public static WireReply Stream(params JsonObject[] chunks) => new(async (context, _) =>
    {
        await StartStreamAsync(context);
        foreach (var chunk in chunks)
        {
            await SendAsync(context, chunk);
        }

        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    });

    /// <summary>
    /// Sends these chunks, then drops the connection as a crashed server would, once
    /// <paramref name="drop"/> completes: the test waits until the room shows the chunks, since a
    /// reset can discard data the caller has not read yet.
    /// </summary>
    public static WireReply BreakAfter(Task drop, params JsonObject[] chunks) => new(async (context, _) =>
    {
        await StartStreamAsync(context);
        foreach (var chunk in chunks)
        {
            await SendAsync(context, chunk);
        }

        await drop.WaitAsync(context.RequestAborted);
        context.Abort();
    });

    /// <summary>Streams a delta every <paramref name="interval"/> until the caller hangs up.</summary>
    public static WireReply Endless(string delta, TimeSpan interval) => new(async (context, _) =>
    {
        await StartStreamAsync(context);
        await SendAsync(context, Chunks.Role());
        while (!context.RequestAborted.IsCancellationRequested)
        {
            await SendAsync(context, Chunks.Text(delta));
            await Task.Delay(interval, context.RequestAborted);
        }
    });

    private static async Task StartStreamAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await context.Response.StartAsync(context.RequestAborted);
    }

    private static async Task SendAsync(HttpContext context, JsonObject chunk)
    {
        await context.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", Encoding.UTF8, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}

/// <summary>Builds <c>chat.completion.chunk</c> objects.</summary>
public static class Chunks
{
    public static JsonObject Role() => Delta(new JsonObject { ["role"] = "assistant", ["content"] = "" });

    public static JsonObject Text(string text) => Delta(new JsonObject { ["content"] = text });

    /// <summary>A fragment of tool call <paramref name="index"/>; id and name come only in its first fragment.</summary>
    public static JsonObject ToolCall(int index, string? id, string? name, string argumentsFragment)
    {
        var function = new JsonObject { ["arguments"] = argumentsFragment };
        if (name is not null)
        {
            function["name"] = name;
        }

        var call = new JsonObject { ["index"] = index, ["function"] = function };
        if (id is not null)
        {
            call["id"] = id;
            call["type"] = "function";
        }

        return Delta(new JsonObject { ["tool_calls"] = new JsonArray(call) });
    }

    public static JsonObject Finish(string reason) => Chunk(new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject(), ["finish_reason"] = reason }));

    /// <summary>The last chunk when <c>stream_options.include_usage</c> was asked for: no choices, only usage.</summary>
    public static JsonObject Usage(int input, int output)
    {
        var chunk = Chunk(new JsonArray());
        chunk["usage"] = new JsonObject { ["prompt_tokens"] = input, ["completion_tokens"] = output, ["total_tokens"] = input + output };
        return chunk;
    }

    private static JsonObject Delta(JsonObject delta) => Chunk(new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = null }));

    private static JsonObject Chunk(JsonArray choices) => new()
    {
        ["id"] = "chatcmpl-wire",
        ["object"] = "chat.completion.chunk",
        ["created"] = 1_700_000_000,
        ["model"] = "wire-model",
        ["choices"] = choices,
    };
}
