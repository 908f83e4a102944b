using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace SignalRChat.Bench;

/// <summary>A real redis-server on a free loopback port, for the two-node scenarios.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        ConnectionString = $"127.0.0.1:{port}";
    }

    public string ConnectionString { get; }

    public static async Task<RedisServer> StartAsync()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Ready to accept connections", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("redis-server exited"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(20));
        return new RedisServer(process, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

/// <summary>
/// A stand-in for an OpenAI-compatible server: every chat-completions request streams a delta every
/// few milliseconds until the caller hangs up, and the moment it hangs up is recorded.
/// </summary>
internal sealed class WireServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private TaskCompletionSource<long> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WireServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>Completes with the Stopwatch time at which the current request was closed by its caller.</summary>
    public Task<long> Closed => _closed.Task;

    public void Reset() => _closed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<WireServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new WireServer(app);
        app.MapPost("/v1/chat/completions", server.StreamAsync);
        await app.StartAsync();
        server.Url = ChatNode.Address(app);
        return server;
    }

    private async Task StreamAsync(HttpContext context)
    {
        var closed = _closed;
        context.RequestAborted.Register(() => closed.TrySetResult(Stopwatch.GetTimestamp()));
        context.Response.ContentType = "text/event-stream";
        await context.Response.StartAsync();
        try
        {
            while (!context.RequestAborted.IsCancellationRequested)
            {
                await context.Response.WriteAsync(
                    """data: {"id":"c","object":"chat.completion.chunk","created":1700000000,"model":"wire","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}""" + "\n\n",
                    context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(5, context.RequestAborted);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A SignalR JSON-protocol client on a bare WebSocket: cheap enough for thousands of idle connections, and it sees every byte.</summary>
internal sealed class RawHubSocket : IAsyncDisposable
{
    private const byte RecordSeparator = 0x1e;
    private readonly ClientWebSocket _socket = new();
    private readonly byte[] _buffer = new byte[16 * 1024];
    private readonly List<byte> _pending = [];

    public long BytesReceived { get; private set; }

    public static Uri WebSocketUri(Uri node, string hubPath, string? token)
    {
        var builder = new UriBuilder(new Uri(node, hubPath.TrimStart('/'))) { Scheme = "ws" };
        if (token is not null)
        {
            builder.Query = "access_token=" + Uri.EscapeDataString(token);
        }

        return builder.Uri;
    }

    public static async Task<RawHubSocket> ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        var socket = new RawHubSocket();
        socket._socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket._socket.ConnectAsync(uri, cancellationToken);
        await socket.SendAsync("""{"protocol":"json","version":1}""", cancellationToken);
        var handshake = await socket.ReceiveRecordAsync(cancellationToken);
        if (handshake != "{}")
        {
            throw new InvalidOperationException("handshake refused: " + handshake);
        }

        socket.BytesReceived = 0;
        return socket;
    }

    public Task SendAsync(string record, CancellationToken cancellationToken) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(record + "\u001e"), WebSocketMessageType.Text, true, cancellationToken);

    public Task PingAsync(CancellationToken cancellationToken) => SendAsync("""{"type":6}""", cancellationToken);

    /// <summary>The next SignalR record (one JSON message), counting what arrived: payload plus the WebSocket frame header.</summary>
    public async Task<string> ReceiveRecordAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var end = _pending.IndexOf(RecordSeparator);
            if (end >= 0)
            {
                var record = Encoding.UTF8.GetString(_pending.GetRange(0, end).ToArray());
                _pending.RemoveRange(0, end + 1);
                return record;
            }

            var result = await _socket.ReceiveAsync(_buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException("the server closed the connection");
            }

            // Server frames are unmasked: 2 header bytes, 4 more from 126 bytes, 10 from 64 KiB.
            BytesReceived += result.Count + (result.Count < 126 ? 2 : result.Count < 65536 ? 4 : 10);
            _pending.AddRange(_buffer.AsSpan(0, result.Count));
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Raises this process's open-file limit, which thousands of loopback connections need (children inherit it).</summary>
internal static partial class FileLimit
{
    private const int RlimitNofile = 7;

    public static long Raise(long wanted)
    {
        if (!OperatingSystem.IsLinux())
        {
            return wanted;
        }

        var limit = default(RLimit);
        if (GetRLimit(RlimitNofile, ref limit) != 0)
        {
            return 1024;
        }

        if ((long)limit.Current >= wanted)
        {
            return (long)limit.Current;
        }

        var raised = new RLimit { Current = (ulong)Math.Max(wanted, (long)limit.Maximum), Maximum = (ulong)Math.Max(wanted, (long)limit.Maximum) };
        if (SetRLimit(RlimitNofile, ref raised) == 0)
        {
            return (long)raised.Current;
        }

        // Not allowed above the hard limit (not root): take what there is.
        var soft = new RLimit { Current = limit.Maximum, Maximum = limit.Maximum };
        return SetRLimit(RlimitNofile, ref soft) == 0 ? (long)limit.Maximum : (long)limit.Current;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, ref RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit")]
    private static partial int SetRLimit(int resource, ref RLimit limit);
}
