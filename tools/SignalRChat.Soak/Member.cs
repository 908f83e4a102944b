using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;

namespace SignalRChat.Soak;

/// <summary>
/// One member of one room, as a person's app: a <see cref="ChatClient"/> that may lose its
/// transport or be restarted (and then resumes from the last seq it saw). Records what the member
/// saw, per generation, and every break in the room's seq order.
/// </summary>
internal sealed class Member(string name, string roomId, Node node, GuestSession session) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, StringBuilder> _texts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StatusEvent> _finals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<StatusEvent>> _finalWaiters = new(StringComparer.Ordinal);
    private readonly List<(string GenerationId, int Count, TaskCompletionSource Done)> _tokenWaiters = [];
    private readonly List<string> _seqProblems = [];
    private ChatClient? _client;
    private WebSocket? _socket;
    private int _clientNumber;
    private long _lastSeq;

    public string Name => name;

    public string RoomId => roomId;

    public Node Node => node;

    public int Restarts { get; private set; }

    public int Resets { get; private set; }

    public int TransportAborts { get; private set; }

    public long EventsSeen { get; private set; }

    public IReadOnlyList<string> SeqProblems
    {
        get
        {
            lock (_lock)
            {
                return _seqProblems.ToList();
            }
        }
    }

    public static async Task<Member> SignInAsync(string name, string roomId, Node node)
    {
        var session = await ChatClient.SignInAsGuestAsync(node.Url, name);
        return new Member(name, roomId, node, session);
    }

    /// <summary>Connects and joins the room; the snapshot's lastSeq is where this member's seq check starts.</summary>
    public async Task JoinAsync()
    {
        var client = await StartClientAsync();
        var snapshot = await client.JoinRoomAsync(roomId);
        lock (_lock)
        {
            _lastSeq = Math.Max(_lastSeq, snapshot.LastSeq);
        }
    }

    /// <summary>Runs a hub call, again after a short pause while the connection is being re-established.</summary>
    public async Task<T> CallAsync<T>(Func<ChatClient, Task<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                return await call(_client!);
            }
            catch (Exception ex) when (ex is not HubException && attempt < 40 && !cancellationToken.IsCancellationRequested)
            {
                // Reconnecting, or the call was cut off with its connection: try again.
            }
            finally
            {
                _gate.Release();
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>Breaks the WebSocket under the client, as a network drop: the client reconnects and resumes by itself.</summary>
    public void AbortTransport()
    {
        WebSocket? socket;
        lock (_lock)
        {
            socket = _socket;
        }

        if (socket is not null)
        {
            TransportAborts++;
            socket.Abort();
        }
    }

    /// <summary>Closes the app and starts it again: a new connection resumes the room from the last seq this member saw.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ChatClient? old;
            lock (_lock)
            {
                old = _client;
                _client = null;
                _clientNumber++;
            }

            if (old is not null)
            {
                await old.DisposeAsync();
            }

            long afterSeq;
            lock (_lock)
            {
                afterSeq = _lastSeq;
            }

            Restarts++;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var client = await StartClientAsync();
                    await client.ResumeAsync(roomId, afterSeq, cancellationToken);
                    return;
                }
                catch (Exception) when (attempt < 20 && !cancellationToken.IsCancellationRequested)
                {
                    lock (_lock)
                    {
                        _client = null;
                        _clientNumber++;
                    }

                    await Task.Delay(250, cancellationToken);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task<StatusEvent> WaitForFinalAsync(string generationId, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_finals.TryGetValue(generationId, out var final))
            {
                return Task.FromResult(final);
            }

            if (!_finalWaiters.TryGetValue(generationId, out var waiter))
            {
                _finalWaiters[generationId] = waiter = new TaskCompletionSource<StatusEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return waiter.Task.WaitAsync(timeout);
        }
    }

    /// <summary>Waits until <paramref name="count"/> characters of the reply arrived, or it ended.</summary>
    public Task WaitForTextAsync(string generationId, int count, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_finals.ContainsKey(generationId) || TokenCount(generationId) >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _tokenWaiters.Add((generationId, count, done));
            return done.Task.WaitAsync(timeout);
        }
    }

    /// <summary>The generations this member saw anything of.</summary>
    public IReadOnlyCollection<string> Generations
    {
        get
        {
            lock (_lock)
            {
                return _texts.Keys.Concat(_finals.Keys).Distinct(StringComparer.Ordinal).ToList();
            }
        }
    }

    public (string Text, StatusEvent? Final) Seen(string generationId)
    {
        lock (_lock)
        {
            return (_texts.TryGetValue(generationId, out var text) ? text.ToString() : string.Empty, _finals.GetValueOrDefault(generationId));
        }
    }

    public async ValueTask DisposeAsync()
    {
        ChatClient? client;
        lock (_lock)
        {
            client = _client;
            _client = null;
            _clientNumber++;
        }

        if (client is not null)
        {
            await client.DisposeAsync();
        }
    }

    private async Task<ChatClient> StartClientAsync()
    {
        int number;
        lock (_lock)
        {
            number = _clientNumber;
        }

        var client = new ChatClient(node.Url, session.Token, builder => builder.Services.Configure<HttpConnectionOptions>(options =>
        {
            // Our own socket, so a drop can be caused from outside (Abort) as a network would.
            options.WebSocketFactory = async (context, cancellationToken) =>
            {
                var socket = new ClientWebSocket();
                socket.Options.SetRequestHeader("Authorization", "Bearer " + session.Token);
                await socket.ConnectAsync(context.Uri, cancellationToken);
                lock (_lock)
                {
                    if (_clientNumber == number)
                    {
                        _socket = socket;
                    }
                }

                return socket;
            };
        }));
        client.EventReceived += e => Receive(number, e);
        client.RoomReset += snapshot => Reset(number, snapshot);
        await client.StartAsync();
        lock (_lock)
        {
            _client = client;
        }

        return client;
    }

    private void Receive(int clientNumber, RoomEvent roomEvent)
    {
        lock (_lock)
        {
            if (clientNumber != _clientNumber || roomEvent.RoomId != roomId)
            {
                return;
            }

            EventsSeen++;
            var first = roomEvent is TokenEvent { FirstSeq: { } firstSeq } ? firstSeq : roomEvent.Seq;
            if (first != _lastSeq + 1)
            {
                _seqProblems.Add(first <= _lastSeq
                    ? $"{name}: seq {first}..{roomEvent.Seq} arrived again after {_lastSeq} (doubled)"
                    : $"{name}: seq {_lastSeq + 1}..{first - 1} never arrived (lost)");
            }

            _lastSeq = Math.Max(_lastSeq, roomEvent.Seq);
            switch (roomEvent)
            {
                case TokenEvent token:
                    Text(token.GenerationId).Append(token.Text);
                    break;
                case StatusEvent { IsFinal: true } status:
                    Text(status.GenerationId);
                    _finals[status.GenerationId] = status;
                    if (_finalWaiters.Remove(status.GenerationId, out var waiter))
                    {
                        waiter.TrySetResult(status);
                    }

                    break;
                case StatusEvent status:
                    Text(status.GenerationId);
                    break;
            }

            for (var i = _tokenWaiters.Count - 1; i >= 0; i--)
            {
                var (generationId, count, done) = _tokenWaiters[i];
                if (_finals.ContainsKey(generationId) || TokenCount(generationId) >= count)
                {
                    done.TrySetResult();
                    _tokenWaiters.RemoveAt(i);
                }
            }
        }
    }

    // The server no longer kept what this member missed: it starts again from a snapshot, and the
    // replies in between cannot be compared token by token.
    private void Reset(int clientNumber, RoomSnapshot snapshot)
    {
        lock (_lock)
        {
            if (clientNumber != _clientNumber)
            {
                return;
            }

            Resets++;
            _lastSeq = snapshot.LastSeq;
            foreach (var open in _texts.Keys.Where(g => !_finals.ContainsKey(g)).ToList())
            {
                _texts.Remove(open);
            }
        }
    }

    private StringBuilder Text(string generationId)
    {
        if (!_texts.TryGetValue(generationId, out var text))
        {
            _texts[generationId] = text = new StringBuilder();
        }

        return text;
    }

    // Counted in characters: enough to know that some tokens have arrived.
    private int TokenCount(string generationId) => _texts.TryGetValue(generationId, out var text) ? text.Length : 0;
}
