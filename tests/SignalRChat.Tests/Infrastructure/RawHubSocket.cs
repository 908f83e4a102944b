using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>
/// A hub client written against the wire: a plain WebSocket doing the SignalR JSON handshake, so a
/// test can send frames no SignalR client library would.
/// </summary>
public sealed class RawHubSocket : IAsyncDisposable
{
    public const char RecordSeparator = '\u001e';

    private readonly ClientWebSocket _socket;
    private readonly StringBuilder _pending = new();

    private RawHubSocket(ClientWebSocket socket) => _socket = socket;

    public WebSocketState State => _socket.State;

    /// <summary>Why the server closed the WebSocket, once it did.</summary>
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public static async Task<RawHubSocket> ConnectAsync(Uri server, string token)
    {
        var socket = new ClientWebSocket();
        var url = new UriBuilder(server) { Scheme = server.Scheme == "https" ? "wss" : "ws", Path = "/hubs/chat", Query = "access_token=" + Uri.EscapeDataString(token) }.Uri;
        using var timeout = new CancellationTokenSource(EventLog.DefaultTimeout);
        await socket.ConnectAsync(url, timeout.Token);
        var raw = new RawHubSocket(socket);
        await raw.SendTextAsync("""{"protocol":"json","version":1}""" + RecordSeparator);
        var handshake = await raw.ReceiveAsync(_ => true);
        if (handshake is null || handshake.RootElement.TryGetProperty("error", out _))
        {
            throw new InvalidOperationException("handshake failed: " + handshake?.RootElement.GetRawText());
        }

        return raw;
    }

    public Task SendTextAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public async Task SendAsync(byte[] bytes, WebSocketMessageType type, int chunk = 16 * 1024)
    {
        using var timeout = new CancellationTokenSource(EventLog.DefaultTimeout);
        for (var offset = 0; offset < bytes.Length || offset == 0; offset += chunk)
        {
            var count = Math.Min(chunk, bytes.Length - offset);
            await _socket.SendAsync(bytes.AsMemory(offset, count), type, offset + count >= bytes.Length, timeout.Token);
            if (bytes.Length == 0)
            {
                break;
            }
        }
    }

    /// <summary>Invokes a hub method with raw JSON arguments and returns the completion.</summary>
    public async Task<JsonDocument?> InvokeAsync(string invocationId, string target, string argumentsJson)
    {
        await SendTextAsync($$"""{"type":1,"invocationId":"{{invocationId}}","target":"{{target}}","arguments":{{argumentsJson}}}""" + RecordSeparator);
        return await ReceiveAsync(m => IsCompletion(m, invocationId) || IsClose(m));
    }

    public static bool IsCompletion(JsonDocument message, string invocationId) =>
        message.RootElement.TryGetProperty("type", out var type) && type.GetInt32() == 3
        && message.RootElement.TryGetProperty("invocationId", out var id) && id.GetString() == invocationId;

    public static bool IsClose(JsonDocument message) => message.RootElement.TryGetProperty("type", out var type) && type.GetInt32() == 7;

    /// <summary>The first message that matches, or null when the server closed the socket first.</summary>
    public async Task<JsonDocument?> ReceiveAsync(Func<JsonDocument, bool> match)
    {
        using var timeout = new CancellationTokenSource(EventLog.DefaultTimeout);
        var buffer = new byte[64 * 1024];
        var bytes = new List<byte>();
        while (true)
        {
            var text = _pending.ToString();
            var end = text.IndexOf(RecordSeparator, StringComparison.Ordinal);
            while (end >= 0)
            {
                var record = text[..end];
                text = text[(end + 1)..];
                _pending.Clear().Append(text);
                var message = JsonDocument.Parse(record);
                if (match(message))
                {
                    return message;
                }

                end = text.IndexOf(RecordSeparator, StringComparison.Ordinal);
            }

            if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseSent))
            {
                return null;
            }

            WebSocketReceiveResult result;
            try
            {
                result = await _socket.ReceiveAsync(buffer, timeout.Token);
            }
            catch (WebSocketException)
            {
                return null;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            bytes.AddRange(buffer.AsSpan(0, result.Count));
            if (result.EndOfMessage)
            {
                _pending.Append(Encoding.UTF8.GetString(bytes.ToArray()));
                bytes.Clear();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // Already gone.
            }
        }

        _socket.Dispose();
    }
}
