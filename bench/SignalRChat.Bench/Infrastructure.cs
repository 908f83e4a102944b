using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using MessagePack;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace SignalRChat.Bench;

/// <summary>A real redis-server on a free loopback port, for the two-node scenarios.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly List<Process> _processes;
    private readonly string? _directory;

    private RedisServer(List<Process> processes, IEnumerable<int> ports, string? directory)
    {
        _processes = processes;
        _directory = directory;
        ConnectionString = string.Join(",", ports.Select(p => $"127.0.0.1:{p}"));
    }

    public string ConnectionString { get; }

    /// <summary>The redis-server process ids, for the diagnostics tools.</summary>
    public IEnumerable<int> ProcessIds => _processes.Select(p => p.Id);

    /// <summary>One redis-server on a free loopback port.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        var port = FreePort();
        return new RedisServer([await LaunchAsync(["--port", Text(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])], [port], null);
    }

    /// <summary>A three-master Redis Cluster on free loopback ports, joined with <c>redis-cli --cluster create</c>.</summary>
    public static async Task<RedisServer> StartClusterAsync()
    {
        var directory = Directory.CreateTempSubdirectory("signalrchat-bench-cluster-").FullName;
        var ports = new List<int>();
        while (ports.Count < 3)
        {
            var port = FreePort();
            if (!ports.Contains(port))
            {
                ports.Add(port);
            }
        }

        var processes = new List<Process>();
        var cluster = new RedisServer(processes, ports, directory);
        foreach (var port in ports)
        {
            processes.Add(await LaunchAsync(["--port", Text(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory,
                "--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf", "--cluster-node-timeout", "5000"]));
        }

        var create = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"])
        {
            create.ArgumentList.Add(argument);
        }

        using (var run = Process.Start(create) ?? throw new InvalidOperationException("redis-cli did not start"))
        {
            var output = await run.StandardOutput.ReadToEndAsync();
            await run.WaitForExitAsync();
            if (run.ExitCode != 0)
            {
                await cluster.DisposeAsync();
                throw new InvalidOperationException($"redis-cli --cluster create failed: {output}");
            }
        }

        await using var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(await Task.WhenAll(ports.Select(async p => (string?)await connection.GetServer("127.0.0.1", p).ExecuteAsync("CLUSTER", "INFO"))))
                   .All(info => info?.Contains("cluster_state:ok", StringComparison.Ordinal) == true))
        {
            await Task.Delay(100, deadline.Token);
        }

        return cluster;
    }

    private static string Text(int port) => port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<Process> LaunchAsync(string[] arguments)
    {
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
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
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>
/// A stand-in for an OpenAI-compatible server: every chat-completions request streams a delta every
/// few milliseconds until the caller hangs up, and the moment it hangs up is recorded. With
/// <see cref="Deltas"/> set, a request streams exactly that many deltas, each one a clock stamp
/// (<see cref="WireStamps"/>), then finishes as OpenAI does: <c>finish_reason</c> "stop" and <c>data: [DONE]</c>.
/// Those deltas keep to a schedule (delta i at i + 1 paces from the request), so a late timer does not slow the
/// model down: the next delta comes sooner.
/// </summary>
internal sealed class WireServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private TaskCompletionSource<long> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WireServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>How many stamped deltas a request streams before it finishes; null: "tok " until the caller hangs up.</summary>
    public int? Deltas { get; set; }

    /// <summary>The time between two deltas.</summary>
    public int PaceMs { get; set; } = 5;

    /// <summary>The mean time between two counted deltas of the last request that finished, in milliseconds.</summary>
    public double LastPaceMs { get; private set; }

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
        server.Url = RunningNode.Address(app);
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
            var deltas = Deltas;
            var started = Stopwatch.GetTimestamp();
            long first = 0, last = 0;
            for (var i = 0; deltas is null ? !context.RequestAborted.IsCancellationRequested : i < deltas; i++)
            {
                if (deltas is not null)
                {
                    var due = TimeSpan.FromMilliseconds((i + 1) * PaceMs) - Stopwatch.GetElapsedTime(started);
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, context.RequestAborted);
                    }

                    last = Stopwatch.GetTimestamp();
                    first = i == 0 ? last : first;
                }

                var content = deltas is null ? "tok " : WireStamps.Now() + " ";
                await context.Response.WriteAsync(
                    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"wire\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + content + "\"},\"finish_reason\":null}]}\n\n",
                    context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (deltas is null)
                {
                    await Task.Delay(PaceMs, context.RequestAborted);
                }
            }

            if (deltas > 1)
            {
                LastPaceMs = Stats.Ms(last - first) / (deltas.Value - 1);
            }

            await context.Response.WriteAsync(
                """data: {"id":"c","object":"chat.completion.chunk","created":1700000000,"model":"wire","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""" + "\n\ndata: [DONE]\n\n",
                context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
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

/// <summary>
/// The clock stamps of <see cref="WireServer"/>'s counted deltas: four characters, as long as a real
/// model's delta with its space (about five), so a side that re-sends the whole text so far carries as
/// much as it would with real text. A stamp is the Stopwatch time (monotonic and shared by every process
/// on the machine) in units of 10 µs modulo 64⁴ (168 s), in the URL-safe base-64 alphabet; a receipt's
/// time minus the stamp, taken modulo the same, is that delta's latency.
/// </summary>
internal static class WireStamps
{
    public const int Length = 4;
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    private const long Range = 64L * 64 * 64 * 64;
    private const double UnitMs = 0.01;

    public static string Now() => Encode(Units(Stopwatch.GetTimestamp()));

    /// <summary>The latency of a stamp received at <paramref name="receivedAt"/> (a Stopwatch time), or null when it is not a stamp.</summary>
    public static double? LatencyMs(ReadOnlySpan<char> stamp, long receivedAt)
    {
        if (stamp.Length != Length)
        {
            return null;
        }

        var units = 0L;
        foreach (var c in stamp)
        {
            var digit = Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (digit < 0)
            {
                return null;
            }

            units = (units * 64) + digit;
        }

        return (((Units(receivedAt) - units) % Range) + Range) % Range * UnitMs;
    }

    private static long Units(long timestamp) => (long)(timestamp / (Stopwatch.Frequency * UnitMs / 1000)) % Range;

    private static string Encode(long units) => string.Create(Length, units, static (chars, value) =>
    {
        for (var i = chars.Length - 1; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value % 64)];
            value /= 64;
        }
    });
}

/// <summary>
/// A SignalR client on a bare WebSocket, JSON or MessagePack: cheap enough for thousands of idle connections, and it sees every byte.
/// </summary>
internal sealed class RawHubSocket : IAsyncDisposable
{
    private const byte RecordSeparator = 0x1e;
    private readonly ClientWebSocket _socket = new();
    private readonly byte[] _buffer = new byte[16 * 1024];
    private readonly List<byte> _pending = [];
    private readonly WireProtocol _protocol;

    private RawHubSocket(WireProtocol protocol) => _protocol = protocol;

    public long BytesReceived { get; private set; }

    /// <summary>WebSocket messages received (each may hold more than one hub message).</summary>
    public long WebSocketMessages { get; private set; }

    /// <summary>The size of the last message taken, with its record separator or length prefix (not the WebSocket header).</summary>
    public int LastMessageBytes { get; private set; }

    public static Uri WebSocketUri(Uri node, string hubPath, string? token, string? query = null)
    {
        var builder = new UriBuilder(new Uri(node, hubPath.TrimStart('/'))) { Scheme = "ws" };
        var parts = new[] { token is null ? null : "access_token=" + Uri.EscapeDataString(token), query }.OfType<string>();
        builder.Query = string.Join('&', parts);
        return builder.Uri;
    }

    public static async Task<RawHubSocket> ConnectAsync(Uri uri, CancellationToken cancellationToken, WireProtocol protocol = WireProtocol.Json)
    {
        var socket = new RawHubSocket(protocol);
        socket._socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket._socket.ConnectAsync(uri, cancellationToken);

        // The handshake is a JSON record whichever protocol it names.
        var name = protocol == WireProtocol.MessagePack ? "messagepack" : "json";
        await socket._socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"protocol":"{{name}}","version":1}""" + "\u001e"), WebSocketMessageType.Text, true, cancellationToken);
        var handshake = Encoding.UTF8.GetString(await socket.ReceiveAsync(socket.TakeRecord, cancellationToken));
        if (handshake != "{}")
        {
            throw new InvalidOperationException("handshake refused: " + handshake);
        }

        socket.BytesReceived = 0;
        socket.WebSocketMessages = 0;
        return socket;
    }

    /// <summary>Calls a hub method with one string argument, as invocation "1".</summary>
    public Task InvokeAsync(string target, string argument, CancellationToken cancellationToken) => InvokeAsync(target, [argument], cancellationToken);

    /// <summary>Calls a hub method with string arguments, as invocation "1".</summary>
    public Task InvokeAsync(string target, string[] arguments, CancellationToken cancellationToken) =>
        _protocol == WireProtocol.MessagePack
            ? SendPackedAsync((ref MessagePackWriter writer) =>
            {
                writer.WriteArrayHeader(5);
                writer.Write(1);
                writer.WriteMapHeader(0);
                writer.Write("1");
                writer.Write(target);
                writer.WriteArrayHeader(arguments.Length);
                foreach (var argument in arguments)
                {
                    writer.Write(argument);
                }
            }, cancellationToken)
            : SendJsonAsync(JsonSerializer.Serialize(new { type = 1, invocationId = "1", target, arguments }), cancellationToken);

    public Task PingAsync(CancellationToken cancellationToken) =>
        _protocol == WireProtocol.MessagePack
            ? SendPackedAsync((ref MessagePackWriter writer) =>
            {
                writer.WriteArrayHeader(1);
                writer.Write(6);
            }, cancellationToken)
            : SendJsonAsync("""{"type":6}""", cancellationToken);

    /// <summary>The next hub message, counting what arrived: payload plus the WebSocket frame header.</summary>
    public async Task<HubMessage> ReceiveMessageAsync(CancellationToken cancellationToken) =>
        _protocol == WireProtocol.MessagePack
            ? HubMessage.FromMessagePack(await ReceiveAsync(TakeLengthPrefixed, cancellationToken))
            : HubMessage.FromJson(await ReceiveAsync(TakeRecord, cancellationToken));

    private Task SendJsonAsync(string record, CancellationToken cancellationToken) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(record + "\u001e"), WebSocketMessageType.Text, true, cancellationToken);

    private delegate void Pack(ref MessagePackWriter writer);

    /// <summary>One MessagePack message behind its length (7 bits a byte, low bits first), as SignalR frames them.</summary>
    private Task SendPackedAsync(Pack pack, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(body);
        pack(ref writer);
        writer.Flush();
        var framed = new List<byte>(body.WrittenCount + 5);
        for (var length = (uint)body.WrittenCount; ; length >>= 7)
        {
            framed.Add((byte)(length > 0x7f ? (length & 0x7f) | 0x80 : length));
            if (length <= 0x7f)
            {
                break;
            }
        }

        framed.AddRange(body.WrittenSpan);
        return _socket.SendAsync(framed.ToArray(), WebSocketMessageType.Binary, true, cancellationToken);
    }

    private async Task<byte[]> ReceiveAsync(Func<byte[]?> take, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (take() is { } message)
            {
                return message;
            }

            var result = await _socket.ReceiveAsync(_buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException("the server closed the connection");
            }

            // Server frames are unmasked: 2 header bytes, 4 more from 126 bytes, 10 from 64 KiB.
            BytesReceived += result.Count + (result.Count < 126 ? 2 : result.Count < 65536 ? 4 : 10);
            WebSocketMessages += result.EndOfMessage ? 1 : 0;
            _pending.AddRange(_buffer.AsSpan(0, result.Count));
        }
    }

    private byte[]? TakeRecord()
    {
        var end = _pending.IndexOf(RecordSeparator);
        return end < 0 ? null : Take(0, end, end + 1);
    }

    private byte[]? TakeLengthPrefixed()
    {
        var length = 0L;
        for (var i = 0; i < Math.Min(5, _pending.Count); i++)
        {
            length |= (long)(_pending[i] & 0x7f) << (7 * i);
            if ((_pending[i] & 0x80) == 0)
            {
                return _pending.Count < i + 1 + length ? null : Take(i + 1, (int)length, i + 1 + (int)length);
            }
        }

        return null;
    }

    private byte[] Take(int start, int count, int consumed)
    {
        var message = _pending.GetRange(start, count).ToArray();
        _pending.RemoveRange(0, consumed);
        LastMessageBytes = consumed;
        return message;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// What the bytes scenario reads from one hub message: its type and, for an invocation, the target and the first
/// argument: a string as it is (<see cref="Argument"/>), or an event's <c>text</c> and <c>state</c> fields; for a
/// compact delta (<c>t</c>, <c>tr</c>: positional <c>roomNumber, seq, text</c>), its text; for the AIStreaming
/// sample's <c>newMessageWithId</c> (<c>name, id, text so far</c>), its text. A completion's error is read too.
/// </summary>
internal readonly record struct HubMessage(int Type, string? Target, string? Argument, string? Text, string? State, string? Error = null)
{
    public const int Invocation = 1;
    public const int Completion = 3;

    private static bool IsCompact(string? target) => target is SignalRChat.Contracts.ChatProtocol.CompactEvents.Token or SignalRChat.Contracts.ChatProtocol.CompactEvents.TokenRun
        or BaselineHub.WholeTextEvent;

    public static HubMessage FromJson(byte[] record)
    {
        using var json = JsonDocument.Parse(record);
        var type = json.RootElement.GetProperty("type").GetInt32();
        if (type != Invocation)
        {
            var error = type == Completion && json.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
            return new HubMessage(type, null, null, null, null, error);
        }

        var target = json.RootElement.GetProperty("target").GetString();
        if (IsCompact(target))
        {
            return new HubMessage(type, target, null, json.RootElement.GetProperty("arguments")[2].GetString(), null);
        }

        var argument = json.RootElement.GetProperty("arguments")[0];
        return argument.ValueKind == JsonValueKind.String
            ? new HubMessage(type, target, argument.GetString(), null, null)
            : new HubMessage(type, target, null, Field(argument, "text"), Field(argument, "state"));

        static string? Field(JsonElement e, string name) => e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>An invocation is <c>[1, headers, invocationId, target, [arguments], ...]</c>; every other message starts with its type too.</summary>
    public static HubMessage FromMessagePack(byte[] message)
    {
        var reader = new MessagePackReader(message);
        reader.ReadArrayHeader();
        var type = reader.ReadInt32();
        if (type != Invocation)
        {
            return new HubMessage(type, null, null, null, null);
        }

        reader.Skip(); // headers
        reader.Skip(); // invocation id
        var target = reader.ReadString();
        reader.ReadArrayHeader();
        if (IsCompact(target))
        {
            reader.Skip(); // room id
            reader.Skip(); // seq
            return new HubMessage(type, target, null, reader.ReadString(), null);
        }

        if (reader.NextMessagePackType == MessagePackType.String)
        {
            return new HubMessage(type, target, reader.ReadString(), null, null);
        }

        string? text = null, state = null;
        for (var fields = reader.ReadMapHeader(); fields > 0; fields--)
        {
            var key = reader.ReadString();
            if (reader.NextMessagePackType != MessagePackType.String)
            {
                reader.Skip();
            }
            else if (key == "text")
            {
                text = reader.ReadString();
            }
            else if (key == "state")
            {
                state = reader.ReadString();
            }
            else
            {
                reader.Skip();
            }
        }

        return new HubMessage(type, target, null, text, state);
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
