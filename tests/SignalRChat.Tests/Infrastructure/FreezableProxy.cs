using System.Net;
using System.Net.Sockets;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>
/// A TCP relay on a free loopback port in front of a server, which a test can freeze: while frozen
/// nothing passes either way (connections stay open), as when one node is cut off from Redis and
/// the others are not. Thawing lets everything held pass in order. It can also let requests through
/// while holding the answers back from the moment a given request was sent (<see cref="HoldRepliesOnceSent"/>),
/// as when a server takes a command and its answer is lost on the way back.
/// </summary>
public sealed class FreezableProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _sockets = [];
    private TaskCompletionSource _open = NewOpen(true);
    private const int MaxMarker = 1024;
    private TaskCompletionSource _repliesOpen = NewOpen(true);
    private byte[]? _marker;
    private int _markerSent;
    private readonly List<(int Times, TaskCompletionSource Reached)> _markerWaits = [];

    public FreezableProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void Freeze() => Interlocked.Exchange(ref _open, NewOpen(false));

    /// <summary>Lets everything held pass, both ways.</summary>
    public void Thaw()
    {
        Volatile.Read(ref _open).TrySetResult();
        Volatile.Read(ref _repliesOpen).TrySetResult();
    }

    /// <summary>
    /// From the first request that contains <paramref name="marker"/> on, answers are held back (requests still pass)
    /// until <see cref="Thaw"/>: the request it is in reaches the server, its answer does not.
    /// </summary>
    public void HoldRepliesOnceSent(string marker)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(System.Text.Encoding.UTF8.GetByteCount(marker), MaxMarker);
        lock (_markerWaits)
        {
            _marker = System.Text.Encoding.UTF8.GetBytes(marker);
            _markerSent = 0;
        }
    }

    /// <summary>Completes once requests containing the marker of <see cref="HoldRepliesOnceSent"/> were sent <paramref name="times"/> times.</summary>
    public Task MarkerSentAsync(int times)
    {
        lock (_markerWaits)
        {
            if (_markerSent >= times)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _markerWaits.Add((times, reached));
            return reached.Task;
        }
    }

    // Counts the marker in what is about to be sent (with the end of the previous chunk, for a marker split
    // between two reads); on its first sight answers are held back before the request goes on.
    private void SeeRequest(byte[] tail, ref int tailLength, ReadOnlySpan<byte> chunk)
    {
        lock (_markerWaits)
        {
            if (_marker is not { } marker)
            {
                return;
            }

            var joined = new byte[tailLength + chunk.Length];
            tail.AsSpan(0, tailLength).CopyTo(joined);
            chunk.CopyTo(joined.AsSpan(tailLength));
            var found = 0;
            for (var at = joined.AsSpan().IndexOf(marker); at >= 0;)
            {
                found++;
                var next = joined.AsSpan(at + 1).IndexOf(marker);
                at = next < 0 ? -1 : at + 1 + next;
            }

            tailLength = Math.Min(marker.Length - 1, joined.Length);
            joined.AsSpan(joined.Length - tailLength).CopyTo(tail);
            if (found == 0)
            {
                return;
            }

            if (_markerSent == 0)
            {
                Interlocked.Exchange(ref _repliesOpen, NewOpen(false));
            }

            _markerSent += found;
            foreach (var wait in _markerWaits.Where(w => w.Times <= _markerSent).ToList())
            {
                wait.Reached.TrySetResult();
                _markerWaits.Remove(wait);
            }
        }
    }

    private static TaskCompletionSource NewOpen(bool open)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open)
        {
            gate.TrySetResult();
        }

        return gate;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var server = new TcpClient();
            await server.ConnectAsync(IPAddress.Loopback, _targetPort);
            lock (_sockets)
            {
                _sockets.Add(client);
                _sockets.Add(server);
            }

            _ = PumpAsync(client.GetStream(), server.GetStream(), request: true);
            _ = PumpAsync(server.GetStream(), client.GetStream(), request: false);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool request)
    {
        var buffer = new byte[16 * 1024];
        var tail = new byte[MaxMarker];
        var tailLength = 0;
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                await Volatile.Read(ref _open).Task.WaitAsync(_stop.Token);
                if (request)
                {
                    SeeRequest(tail, ref tailLength, buffer.AsSpan(0, read));
                }
                else
                {
                    await Volatile.Read(ref _repliesOpen).Task.WaitAsync(_stop.Token);
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // A side closed, or the proxy stops.
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }
}
