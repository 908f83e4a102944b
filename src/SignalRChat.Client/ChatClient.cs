using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Contracts;

namespace SignalRChat.Client;

/// <summary>
/// A connection to the chat service: the contract's hub methods and events, typed. Events are
/// raised in each room's seq order with duplicates dropped; after a reconnect the client resumes
/// every room it is in from the last seq it saw, so a handler never sees a gap or a doubled token.
/// </summary>
public sealed class ChatClient : IAsyncDisposable
{
    private const int RememberedReplies = 512;

    private readonly ConcurrentDictionary<string, RoomTracker> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ReplyState> _replies = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _finishedReplies = new();
    private readonly ConcurrentDictionary<string, byte> _resuming = new(StringComparer.Ordinal);
    private readonly Uri _server;
    private readonly CancellationTokenSource _stopping = new();
    private string _accessToken;
    private Task? _refreshing;

    /// <summary>Connects to <paramref name="server"/> with a token from <see cref="SignInAsGuestAsync"/> or your identity provider.</summary>
    /// <param name="server">The service's base address.</param>
    /// <param name="accessToken">A bearer token for the hub.</param>
    /// <param name="configure">Changes to the hub connection (transport, protocol, logging).</param>
    /// <param name="omitFinalText">
    /// Asks the server to leave the text out of each final status (<c>finalText=omit</c>): the client
    /// puts it back from the snapshot and the deltas it received, so handlers see the same events
    /// while each reply's text crosses the wire once instead of twice.
    /// </param>
    public ChatClient(Uri server, string accessToken, Action<IHubConnectionBuilder>? configure = null, bool omitFinalText = false)
    {
        _server = server;
        _accessToken = accessToken;
        var hub = omitFinalText ? $"{ChatProtocol.HubPath}?{ChatProtocol.Query.FinalText}={ChatProtocol.Query.Omit}" : ChatProtocol.HubPath;

        // Every (re)connect asks for the token held now, so a reconnect after a refresh uses the fresh one.
        var builder = new HubConnectionBuilder()
            .WithUrl(new Uri(server, hub), options => options.AccessTokenProvider = () => Task.FromResult<string?>(AccessToken))
            .WithAutomaticReconnect(new Backoff())
            .WithStatefulReconnect();
        configure?.Invoke(builder);
        Connection = builder.Build();

        Connection.On<MessageEvent>(ChatProtocol.Events.Message, e => Receive(e));
        Connection.On<TokenEvent>(ChatProtocol.Events.Token, e => Receive(e));
        Connection.On<ToolProgressEvent>(ChatProtocol.Events.ToolProgress, e => Receive(e));
        Connection.On<StatusEvent>(ChatProtocol.Events.Status, e => Receive(e));
        Connection.On<PresenceEvent>(ChatProtocol.Events.Presence, e => Receive(e));
        Connection.On<RoomActivityEvent>(ChatProtocol.Events.RoomActivity, e => RoomActivityReceived?.Invoke(e));
        Connection.On<InvitedEvent>(ChatProtocol.Events.Invited, e => InvitedReceived?.Invoke(e));
        Connection.On<ReadMarkEvent>(ChatProtocol.Events.ReadMark, e => ReadMarkReceived?.Invoke(e));
        Connection.Reconnecting += RaiseStateChanged;
        Connection.Reconnected += async _ =>
        {
            RaiseStateChanged();
            await ResumeRoomsAsync();
        };
        Connection.Closed += OnClosedAsync;
    }

    /// <summary>The underlying SignalR connection.</summary>
    public HubConnection Connection { get; }

    public HubConnectionState State => Connection.State;

    /// <summary>The token the client holds now; renewed ahead of its expiry while the client runs.</summary>
    public string AccessToken => Volatile.Read(ref _accessToken);

    /// <summary>Raised with the new token after a refresh; the live connection is not disturbed.</summary>
    public event Action<string>? TokenRefreshed;

    /// <summary>Every room event, in order, once.</summary>
    public event Action<RoomEvent>? EventReceived;

    public event Action<MessageEvent>? MessageReceived;

    public event Action<TokenEvent>? TokenReceived;

    public event Action<ToolProgressEvent>? ToolProgressReceived;

    public event Action<StatusEvent>? StatusReceived;

    public event Action<PresenceEvent>? PresenceReceived;

    /// <summary>A room you belong to has a new message (sent to every connection of yours, on any node).</summary>
    public event Action<RoomActivityEvent>? RoomActivityReceived;

    /// <summary>You were invited to a room.</summary>
    public event Action<InvitedEvent>? InvitedReceived;

    /// <summary>You marked a room read up to a seq (on this or another connection), so badges can be cleared.</summary>
    public event Action<ReadMarkEvent>? ReadMarkReceived;

    /// <summary>Raised when the connection state changes (connected, reconnecting, disconnected).</summary>
    public event Action<HubConnectionState>? StateChanged;

    /// <summary>Raised when a room had to be joined afresh because the server no longer kept what was missed.</summary>
    public event Action<RoomSnapshot>? RoomReset;

    /// <summary>Signs in as a guest: <c>POST /api/auth/guest</c>.</summary>
    public static async Task<GuestSession> SignInAsGuestAsync(Uri server, string name, HttpClient? http = null, CancellationToken cancellationToken = default)
    {
        var owned = http is null;
        http ??= new HttpClient();
        try
        {
            using var response = await http.PostAsJsonAsync(new Uri(server, "/api/auth/guest"), new { name }, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                throw new HttpRequestException($"guest sign-in failed ({(int)response.StatusCode}): {body}", null, response.StatusCode);
            }

            return await response.Content.ReadFromJsonAsync<GuestSession>(cancellationToken)
                   ?? throw new HttpRequestException("guest sign-in returned no session");
        }
        finally
        {
            if (owned)
            {
                http.Dispose();
            }
        }
    }

    /// <summary>Signs in as a guest and connects.</summary>
    public static async Task<ChatClient> ConnectAsGuestAsync(Uri server, string name, Action<IHubConnectionBuilder>? configure = null, CancellationToken cancellationToken = default,
        bool omitFinalText = false)
    {
        var session = await SignInAsGuestAsync(server, name, cancellationToken: cancellationToken);
        var client = new ChatClient(server, session.Token, configure, omitFinalText) { Session = session };
        await client.StartAsync(cancellationToken);
        return client;
    }

    /// <summary>The guest session this client signed in with, if it did.</summary>
    public GuestSession? Session { get; private init; }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await Connection.StartAsync(cancellationToken);
        RaiseStateChanged();
        _refreshing ??= Task.Run(KeepTokenFreshAsync, CancellationToken.None);
    }

    /// <summary>Trades the current token for a new one: <c>POST /api/auth/refresh</c>. Only tokens this service issued can be refreshed.</summary>
    public async Task<string> RefreshTokenAsync(CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server, "/api/auth/refresh"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException($"token refresh failed ({(int)response.StatusCode}): {body}", null, response.StatusCode);
        }

        var session = await response.Content.ReadFromJsonAsync<GuestSession>(cancellationToken)
                      ?? throw new HttpRequestException("token refresh returned no token");
        Volatile.Write(ref _accessToken, session.Token);
        TokenRefreshed?.Invoke(session.Token);
        return session.Token;
    }

    // Renews the token when three quarters of its lifetime have passed; a token whose lifetime cannot be read, or that
    // this service refuses to refresh (one from an identity provider), is left alone.
    private async Task KeepTokenFreshAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested && TokenTimes.Read(AccessToken) is { } times)
        {
            var now = DateTimeOffset.UtcNow;
            var due = times.IssuedAt + (times.Expires - times.IssuedAt) * 0.75;
            try
            {
                if (due > now)
                {
                    await Task.Delay(due - now, stopping);
                }

                await RefreshTokenAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException ex) when (ex.StatusCode is System.Net.HttpStatusCode.BadRequest or System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
            {
                // The server may be restarting: try again soon, while the token still lasts.
                var left = times.Expires - DateTimeOffset.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    return;
                }

                try
                {
                    await Task.Delay(TimeSpan.FromTicks(Math.Clamp(left.Ticks / 4, TimeSpan.FromMilliseconds(200).Ticks, TimeSpan.FromSeconds(10).Ticks)), stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>The last seq this client has seen in a room (0 if none).</summary>
    public long LastSeq(string roomId) => _rooms.TryGetValue(roomId, out var room) ? room.LastSeq : 0;

    public Task<RoomSnapshot> JoinRoomAsync(string roomId, CancellationToken cancellationToken = default) =>
        EnterAsync(roomId, () => Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, roomId, cancellationToken));

    public Task<RoomSnapshot> CreateRoomAsync(string roomId, string visibility = RoomVisibility.Public, CancellationToken cancellationToken = default) =>
        EnterAsync(roomId, () => Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.CreateRoom, roomId, new CreateRoomOptions(visibility), cancellationToken));

    public async Task LeaveRoomAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await Connection.InvokeAsync(ChatProtocol.Methods.LeaveRoom, roomId, cancellationToken);
        if (_rooms.TryRemove(roomId, out var room))
        {
            room.Leave();
        }
    }

    public Task InviteToRoomAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync(ChatProtocol.Methods.InviteToRoom, roomId, userId, cancellationToken);

    public Task<SendMessageResult> SendMessageAsync(string roomId, string text, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<SendMessageResult>(ChatProtocol.Methods.SendMessage, roomId, text, cancellationToken);

    /// <summary>A page of a room's history: messages with seq below <paramref name="beforeSeq"/> (0: the newest), oldest first, at most <paramref name="limit"/> (1 to 200).</summary>
    public Task<HistoryPage> GetHistoryAsync(string roomId, long beforeSeq = 0, int limit = 50, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<HistoryPage>(ChatProtocol.Methods.GetHistory, roomId, beforeSeq, limit, cancellationToken);

    /// <summary>The rooms you belong to, most recent activity first, with a preview and your unread count.</summary>
    public Task<IReadOnlyList<RoomSummary>> ListRoomsAsync(CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<IReadOnlyList<RoomSummary>>(ChatProtocol.Methods.ListRooms, cancellationToken);

    /// <summary>Records that you read a room up to <paramref name="seq"/> (never backwards); your other connections get <c>readMark</c>.</summary>
    public Task MarkReadAsync(string roomId, long seq, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync(ChatProtocol.Methods.MarkRead, roomId, seq, cancellationToken);

    /// <summary>Sends a message and returns its reply as it streams.</summary>
    public async Task<ChatReply> AskAsync(string roomId, string text, CancellationToken cancellationToken = default)
    {
        var sent = await SendMessageAsync(roomId, text, cancellationToken);
        return new ChatReply(this, sent, Reply(sent.GenerationId));
    }

    /// <summary>The token deltas of a generation (one seen in an event, or one of yours), until it ends.</summary>
    public IAsyncEnumerable<string> StreamTokensAsync(string generationId, CancellationToken cancellationToken = default) =>
        Reply(generationId).Tokens.Reader.ReadAllAsync(cancellationToken);

    /// <summary>The final status of a generation.</summary>
    public Task<StatusEvent> WaitForReplyAsync(string generationId, CancellationToken cancellationToken = default) =>
        Reply(generationId).Completion.Task.WaitAsync(cancellationToken);

    public Task<bool> CancelGenerationAsync(string generationId, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<bool>(ChatProtocol.Methods.CancelGeneration, generationId, cancellationToken);

    /// <summary>Asks the server to re-send a room's events after <paramref name="afterSeq"/>.</summary>
    public async Task<ResumeResult> ResumeAsync(string roomId, long afterSeq, CancellationToken cancellationToken = default)
    {
        var room = _rooms.GetOrAdd(roomId, _ => new RoomTracker());

        // A new connection (a restarted app) resuming a room it has not joined: it continues from afterSeq,
        // so gaps are noticed and a later reconnect resumes the room again.
        room.ResumeFrom(afterSeq);
        var result = await Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, roomId, afterSeq, cancellationToken);
        if (result.Reset)
        {
            var snapshot = await JoinRoomAsync(roomId, cancellationToken);
            RoomReset?.Invoke(snapshot);
        }

        return result;
    }

    /// <summary>Closes the connection for good; the client no longer reconnects.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        _stopping.Cancel();
        await Connection.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // Not disposed, so that disposing twice stays harmless; it has no timer to release.
        await _stopping.CancelAsync();
        if (_refreshing is not null)
        {
            await _refreshing;
        }

        await Connection.DisposeAsync();
        foreach (var reply in _replies.Values)
        {
            reply.Tokens.Writer.TryComplete();
        }
    }

    private async Task<RoomSnapshot> EnterAsync(string roomId, Func<Task<RoomSnapshot>> call)
    {
        var room = _rooms.GetOrAdd(roomId, _ => new RoomTracker());
        room.BeginJoin();
        RoomSnapshot snapshot;
        try
        {
            snapshot = await call();
        }
        catch
        {
            room.AbortJoin();
            if (!room.Joined)
            {
                _rooms.TryRemove(roomId, out _);
            }

            throw;
        }

        bool gap;
        lock (room.Applying)
        {
            if (snapshot.ActiveGeneration is { } active)
            {
                // The reply so far, up to the snapshot's seq; the deltas after it were held and follow.
                Reply(active.GenerationId).Restart(active.Text);
            }

            (var ready, gap) = room.CompleteJoin(snapshot.LastSeq);
            foreach (var held in ready)
            {
                Dispatch(held);
            }
        }

        if (gap)
        {
            _ = ResumeAfterGapAsync(roomId, room.LastSeq);
        }

        return snapshot;
    }

    private void Receive(RoomEvent roomEvent)
    {
        var room = _rooms.GetOrAdd(roomEvent.RoomId, _ => new RoomTracker());
        lock (room.Applying)
        {
            switch (room.Accept(roomEvent))
            {
                case Arrival.New:
                    Dispatch(roomEvent);
                    break;
                case Arrival.Gap:
                    _ = ResumeAfterGapAsync(roomEvent.RoomId, room.LastSeq);
                    break;
            }
        }
    }

    private async Task ResumeAfterGapAsync(string roomId, long afterSeq)
    {
        if (!_resuming.TryAdd(roomId, 0))
        {
            return;
        }

        try
        {
            await ResumeAsync(roomId, afterSeq);
        }
        catch (Exception)
        {
            // The next reconnect resumes again.
        }
        finally
        {
            _resuming.TryRemove(roomId, out _);
        }
    }

    private async Task ResumeRoomsAsync()
    {
        foreach (var (roomId, room) in _rooms.ToArray())
        {
            if (room.Joined)
            {
                await ResumeAfterGapAsync(roomId, room.LastSeq);
            }
        }
    }

    private void Dispatch(RoomEvent roomEvent)
    {
        if (roomEvent is TokenEvent or StatusEvent or ToolProgressEvent)
        {
            var generationId = roomEvent switch
            {
                TokenEvent t => t.GenerationId,
                StatusEvent s => s.GenerationId,
                ToolProgressEvent p => p.GenerationId,
                _ => null!,
            };
            var reply = Reply(generationId);
            roomEvent = reply.Apply(roomEvent);
            if (roomEvent is StatusEvent { IsFinal: true })
            {
                Forget(generationId);
            }
        }

        EventReceived?.Invoke(roomEvent);
        switch (roomEvent)
        {
            case MessageEvent e:
                MessageReceived?.Invoke(e);
                break;
            case TokenEvent e:
                TokenReceived?.Invoke(e);
                break;
            case ToolProgressEvent e:
                ToolProgressReceived?.Invoke(e);
                break;
            case StatusEvent e:
                StatusReceived?.Invoke(e);
                break;
            case PresenceEvent e:
                PresenceReceived?.Invoke(e);
                break;
        }
    }

    private ReplyState Reply(string generationId) => _replies.GetOrAdd(generationId, _ => new ReplyState());

    // Finished replies stay a while, so a reader that asks after the end still gets the whole reply.
    private void Forget(string generationId)
    {
        _finishedReplies.Enqueue(generationId);
        while (_finishedReplies.Count > RememberedReplies && _finishedReplies.TryDequeue(out var old))
        {
            _replies.TryRemove(old, out _);
        }
    }

    private void RaiseStateChanged() => StateChanged?.Invoke(Connection.State);

    // SignalR's own reconnect covers a dropped transport; a connection the server closed (a restart,
    // a reader too far behind) is started again here, and every room resumes from its last seq.
    private async Task OnClosedAsync(Exception? error)
    {
        // A close with an error from the server is a refusal (a limit, a revoked sign-in): do not knock again.
        if (_stopping.IsCancellationRequested || error is HubException)
        {
            RaiseStateChanged();
            return;
        }

        StateChanged?.Invoke(HubConnectionState.Reconnecting);
        var backoff = new Backoff();
        for (var attempt = 0; !_stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                var delay = backoff.NextRetryDelay(new RetryContext { PreviousRetryCount = attempt, RetryReason = error ?? new InvalidOperationException("closed") });
                await Task.Delay(delay ?? TimeSpan.FromSeconds(10), _stopping.Token);
                await Connection.StartAsync(_stopping.Token);
                RaiseStateChanged();
                await ResumeRoomsAsync();
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Not back yet: try again after the next delay.
            }
        }
    }

    private Task RaiseStateChanged(Exception? _)
    {
        RaiseStateChanged();
        return Task.CompletedTask;
    }

    /// <summary>Reconnects at once, then after 0.5, 1, 2, 5 and every 10 seconds, for as long as it takes.</summary>
    private sealed class Backoff : IRetryPolicy
    {
        private static readonly TimeSpan[] Delays = [TimeSpan.Zero, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5)];

        public TimeSpan? NextRetryDelay(RetryContext retryContext) =>
            retryContext.PreviousRetryCount < Delays.Length ? Delays[retryContext.PreviousRetryCount] : TimeSpan.FromSeconds(10);
    }
}
