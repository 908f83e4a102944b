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
/// When the server no longer has what was missed (Resume answers reset, is refused because a
/// restarted server does not know the connection's rooms, or shows the room's seq went backwards),
/// the room is joined afresh: <see cref="SnapshotReceived"/> and <see cref="RoomReset"/> get the new
/// snapshot before the events that follow it.
/// </summary>
public sealed class ChatClient : IAsyncDisposable
{
    private const int RememberedReplies = 512;

    private readonly ConcurrentDictionary<string, RoomTracker> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ReplyState> _replies = new(StringComparer.Ordinal);

    // tokens=compact: the room each number names on this connection, as the server announced with 'rn'.
    private readonly ConcurrentDictionary<int, string> _roomNumbers = new();
    private readonly ConcurrentQueue<string> _finishedReplies = new();
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
    /// <param name="compactTokens">
    /// Asks the server for token deltas in the compact shape (<c>tokens=compact</c>: <c>t</c> and <c>tr</c>,
    /// positional arguments, the room by its number (<c>rn</c>), no generation id); the client gives each the id of the reply running in its
    /// room, so handlers see the same <see cref="TokenEvent"/>s while each delta costs a fraction of the framing.
    /// </param>
    public ChatClient(Uri server, string accessToken, Action<IHubConnectionBuilder>? configure = null, bool omitFinalText = false, bool compactTokens = false)
    {
        _server = server;
        _accessToken = accessToken;
        var query = new List<string>(2);
        if (omitFinalText)
        {
            query.Add($"{ChatProtocol.Query.FinalText}={ChatProtocol.Query.Omit}");
        }

        if (compactTokens)
        {
            query.Add($"{ChatProtocol.Query.Tokens}={ChatProtocol.Query.Compact}");
        }

        var hub = query.Count == 0 ? ChatProtocol.HubPath : $"{ChatProtocol.HubPath}?{string.Join('&', query)}";

        // Every (re)connect asks for the token held now, so a reconnect after a refresh uses the fresh one.
        var builder = new HubConnectionBuilder()
            .WithUrl(new Uri(server, hub), options => options.AccessTokenProvider = () => Task.FromResult<string?>(AccessToken))
            .WithAutomaticReconnect(new Backoff())
            .WithStatefulReconnect();
        configure?.Invoke(builder);
        Connection = builder.Build();

        Connection.On<MessageEvent>(ChatProtocol.Events.Message, e => Receive(e));
        Connection.On<TokenEvent>(ChatProtocol.Events.Token, e => Receive(e));

        // Compact deltas: an empty generation id, which the room's tracker fills with the running reply's.
        Connection.On<string, int>(ChatProtocol.CompactEvents.RoomNumber, (roomId, number) =>
        {
            if (roomId is not null)
            {
                _roomNumbers[number] = roomId;
            }
        });
        Connection.On<int, long, string>(ChatProtocol.CompactEvents.Token, (number, seq, text) => ReceiveCompact(number, seq, text, null));
        Connection.On<int, long, string, long>(ChatProtocol.CompactEvents.TokenRun, (number, seq, text, firstSeq) => ReceiveCompact(number, seq, text, firstSeq));
        Connection.On<ToolProgressEvent>(ChatProtocol.Events.ToolProgress, e => Receive(e));
        Connection.On<StatusEvent>(ChatProtocol.Events.Status, e => Receive(e));
        Connection.On<PresenceEvent>(ChatProtocol.Events.Presence, e => Receive(e));
        Connection.On<RoomActivityEvent>(ChatProtocol.Events.RoomActivity, e => RoomActivityReceived?.Invoke(e));
        Connection.On<InvitedEvent>(ChatProtocol.Events.Invited, e => InvitedReceived?.Invoke(e));
        Connection.On<ReadMarkEvent>(ChatProtocol.Events.ReadMark, e => ReadMarkReceived?.Invoke(e));
        Connection.On<RoomSettingsEvent>(ChatProtocol.Events.RoomSettings, e => Receive(e));
        Connection.On<ToolApprovalEvent>(ChatProtocol.Events.ToolApproval, e => Receive(e));

        // Ephemeral: no seq, so it bypasses the room's seq tracking.
        Connection.On<TypingEvent>(ChatProtocol.Events.Typing, e => TypingReceived?.Invoke(e));
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

    /// <summary>A room's settings changed.</summary>
    public event Action<RoomSettingsEvent>? RoomSettingsReceived;

    /// <summary>A tool call waits for a member's decision, or was decided.</summary>
    public event Action<ToolApprovalEvent>? ToolApprovalReceived;

    /// <summary>Another member is typing (ephemeral: never replayed).</summary>
    public event Action<TypingEvent>? TypingReceived;

    /// <summary>Raised when the connection state changes (connected, reconnecting, disconnected).</summary>
    public event Action<HubConnectionState>? StateChanged;

    /// <summary>
    /// Raised when a room had to be joined afresh because the server no longer kept what was missed (a reset,
    /// or a restarted server): render the room anew from it. Raised before the events that follow the snapshot.
    /// </summary>
    public event Action<RoomSnapshot>? RoomReset;

    /// <summary>
    /// Raised with every snapshot (JoinRoom, CreateRoom, a rejoin after a reset) before the events that follow it
    /// are raised, so that no event of a room lands before the snapshot it follows.
    /// </summary>
    public event Action<RoomSnapshot>? SnapshotReceived;

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
        bool omitFinalText = false, bool compactTokens = false)
    {
        var session = await SignInAsGuestAsync(server, name, cancellationToken: cancellationToken);
        var client = new ChatClient(server, session.Token, configure, omitFinalText, compactTokens) { Session = session };
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

    public Task LeaveRoomAsync(string roomId, CancellationToken cancellationToken = default) => ExitAsync(ChatProtocol.Methods.LeaveRoom, roomId, cancellationToken);

    /// <summary>Stops receiving the room on this connection and stays a member (extension <c>CloseRoom</c>); <see cref="JoinRoomAsync"/> opens it again.</summary>
    public Task CloseRoomAsync(string roomId, CancellationToken cancellationToken = default) => ExitAsync(ChatProtocol.Methods.CloseRoom, roomId, cancellationToken);

    private async Task ExitAsync(string method, string roomId, CancellationToken cancellationToken)
    {
        await Connection.InvokeAsync(method, roomId, cancellationToken);
        foreach (var (number, numbered) in _roomNumbers)
        {
            if (numbered == roomId)
            {
                _roomNumbers.TryRemove(new KeyValuePair<int, string>(number, numbered));
            }
        }

        if (_rooms.TryRemove(roomId, out var room))
        {
            lock (room.Gate)
            {
                room.Leave();
            }
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
        var generationId = sent.GenerationId
            ?? throw new InvalidOperationException($"the message started no reply: room '{roomId}' answers only messages that mention {AssistantModes.Mention}");
        var reply = Reply(generationId);
        reply.RoomId ??= roomId;
        return new ChatReply(this, generationId, sent.MessageId, reply);
    }

    /// <summary>The token deltas of a generation (one seen in an event, or one of yours), until it ends.</summary>
    public IAsyncEnumerable<string> StreamTokensAsync(string generationId, CancellationToken cancellationToken = default) =>
        Reply(generationId).Tokens.Reader.ReadAllAsync(cancellationToken);

    /// <summary>The final status of a generation.</summary>
    public Task<StatusEvent> WaitForReplyAsync(string generationId, CancellationToken cancellationToken = default) =>
        Reply(generationId).Completion.Task.WaitAsync(cancellationToken);

    public Task<bool> CancelGenerationAsync(string generationId, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<bool>(ChatProtocol.Methods.CancelGeneration, generationId, cancellationToken);

    /// <summary>Changes the given settings of a room (a private room's by its creator, a public room's by any member); returns all of them.</summary>
    public Task<RoomSettings> UpdateRoomSettingsAsync(string roomId, RoomSettingsUpdate settings, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<RoomSettings>(ChatProtocol.Methods.UpdateRoomSettings, roomId, settings, cancellationToken);

    /// <summary>Tells the room's other members that this user is typing; call it at most every few seconds while they type.</summary>
    public Task TypingAsync(string roomId, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync(ChatProtocol.Methods.Typing, roomId, cancellationToken);

    /// <summary>Approves or denies a tool call that waits; true when this call decided it.</summary>
    public Task<bool> DecideToolCallAsync(string approvalId, bool approve, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<bool>(ChatProtocol.Methods.DecideToolCall, approvalId, approve, cancellationToken);

    /// <summary>Asks for a new reply to the user message that <paramref name="messageId"/> answered (or is); the old reply stays.</summary>
    public Task<SendMessageResult> RegenerateAsync(string roomId, string messageId, CancellationToken cancellationToken = default) =>
        Connection.InvokeAsync<SendMessageResult>(ChatProtocol.Methods.Regenerate, roomId, messageId, cancellationToken);

    /// <summary>
    /// Asks the server to re-send a room's events after <paramref name="afterSeq"/>. A room this client does not
    /// follow yet (a restarted app that kept its seq) is taken up from there. When the answer is a reset, or the
    /// room's seq is below <paramref name="afterSeq"/>, the room is joined afresh (<see cref="RoomReset"/>) before this returns.
    /// </summary>
    public async Task<ResumeResult> ResumeAsync(string roomId, long afterSeq, CancellationToken cancellationToken = default)
    {
        var room = _rooms.GetOrAdd(roomId, _ => new RoomTracker());
        bool takenUp;
        lock (room.Gate)
        {
            takenUp = !room.Joined;
            room.BeginResume(afterSeq);
        }

        ResumeResult result;
        try
        {
            result = await Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, roomId, afterSeq, cancellationToken);
        }
        catch
        {
            TrackerAction next;
            lock (room.Gate)
            {
                if (takenUp)
                {
                    // Refused for a room the app tried to take up: it is not followed after all.
                    room.Leave();
                    _rooms.TryRemove(new KeyValuePair<string, RoomTracker>(roomId, room));
                }
                else
                {
                    room.ResumeFailed();
                }

                next = room.NextAction();
            }

            _ = PerformAsync(roomId, room, next);
            throw;
        }

        TrackerAction then;
        lock (room.Gate)
        {
            room.Resumed(result);
            then = room.NextAction();
        }

        await PerformAsync(roomId, room, then);
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
        lock (room.Gate)
        {
            room.BeginJoin();
        }

        RoomSnapshot snapshot;
        try
        {
            snapshot = await call();
        }
        catch
        {
            TrackerAction next;
            lock (room.Gate)
            {
                room.AbortJoin();
                if (!room.Joined)
                {
                    _rooms.TryRemove(new KeyValuePair<string, RoomTracker>(roomId, room));
                }

                next = room.NextAction();
            }

            _ = PerformAsync(roomId, room, next);
            throw;
        }

        _ = PerformAsync(roomId, room, Apply(room, snapshot));
        return snapshot;
    }

    // The snapshot first (to SnapshotReceived, and to RoomReset when the tracker asked for this join), then the held events after it.
    private TrackerAction Apply(RoomTracker room, RoomSnapshot snapshot)
    {
        lock (room.Gate)
        {
            var reset = room.Rejoining;
            if (snapshot.ActiveGeneration is { } active)
            {
                // The reply so far, up to the snapshot's seq; the deltas after it were held and follow.
                var reply = Reply(active.GenerationId);
                reply.RoomId ??= snapshot.RoomId;
                reply.MessageId ??= active.MessageId;
                reply.Restart(active.Text);
            }

            if (reset)
            {
                EndMissedReplies(snapshot);
            }

            SnapshotReceived?.Invoke(snapshot);
            if (reset)
            {
                RoomReset?.Invoke(snapshot);
            }

            foreach (var held in room.CompleteJoin(snapshot.LastSeq, snapshot.ActiveGeneration?.GenerationId))
            {
                Dispatch(held);
            }

            return room.NextAction();
        }
    }

    // Replies of the room that were running when what was missed began, and are not running now: they ended meanwhile.
    private void EndMissedReplies(RoomSnapshot snapshot)
    {
        foreach (var (generationId, reply) in _replies)
        {
            if (reply.RoomId == snapshot.RoomId && !reply.Completion.Task.IsCompleted && snapshot.ActiveGeneration?.GenerationId != generationId)
            {
                reply.EndFrom(snapshot, generationId);
                Forget(generationId);
            }
        }
    }

    private void ReceiveCompact(int number, long seq, string? text, long? firstSeq)
    {
        // A frame of a room number never announced, or without its text, is not a delta this client can place: dropped, and the seq hole it leaves is resumed.
        if (_roomNumbers.TryGetValue(number, out var roomId) && text is not null)
        {
            Receive(new TokenEvent(roomId, string.Empty, text) { Seq = seq, FirstSeq = firstSeq });
        }
    }

    private void Receive(RoomEvent roomEvent)
    {
        // Only rooms this client follows: what still arrives for a room it left is dropped.
        if (!_rooms.TryGetValue(roomEvent.RoomId, out var room))
        {
            return;
        }

        TrackerAction next;
        lock (room.Gate)
        {
            foreach (var ready in room.Receive(roomEvent))
            {
                Dispatch(ready);
            }

            next = room.NextAction();
        }

        _ = PerformAsync(roomEvent.RoomId, room, next);
    }

    // Does what a room's tracker asked for, and then what it asks for next, until it asks for nothing.
    private async Task PerformAsync(string roomId, RoomTracker room, TrackerAction action)
    {
        while (action.Kind != TrackerActionKind.None)
        {
            action = action.Kind == TrackerActionKind.Resume
                ? await CatchUpAsync(roomId, room, action.AfterSeq)
                : await RejoinAsync(roomId, room);
        }
    }

    private async Task<TrackerAction> CatchUpAsync(string roomId, RoomTracker room, long afterSeq)
    {
        ResumeResult result;
        try
        {
            result = await Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, roomId, afterSeq, _stopping.Token);
        }
        catch (Exception)
        {
            // Refused ("join room … before you resume it" from a restarted server), or the connection went:
            // the tracker joins afresh, or resumes again on the new connection.
            lock (room.Gate)
            {
                room.ResumeFailed();
                return _stopping.IsCancellationRequested ? default : room.NextAction();
            }
        }

        lock (room.Gate)
        {
            room.Resumed(result);
            return room.NextAction();
        }
    }

    private async Task<TrackerAction> RejoinAsync(string roomId, RoomTracker room)
    {
        RoomSnapshot snapshot;
        try
        {
            snapshot = await Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, roomId, _stopping.Token);
        }
        catch (Exception)
        {
            // Not joined again: the position stays, and the next reconnect tries again.
            lock (room.Gate)
            {
                room.AbortJoin();
                return _stopping.IsCancellationRequested ? default : room.NextAction();
            }
        }

        // Left meanwhile: the snapshot is of a room no longer followed.
        if (!_rooms.TryGetValue(roomId, out var current) || current != room)
        {
            return default;
        }

        return Apply(room, snapshot);
    }

    private async Task ResumeRoomsAsync()
    {
        var catchingUp = new List<Task>();
        foreach (var (roomId, room) in _rooms.ToArray())
        {
            TrackerAction next;
            lock (room.Gate)
            {
                room.Reconnected();
                next = room.NextAction();
            }

            catchingUp.Add(PerformAsync(roomId, room, next));
        }

        await Task.WhenAll(catchingUp);
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
            reply.RoomId ??= roomEvent.RoomId;
            if (roomEvent is StatusEvent { MessageId: { } messageId })
            {
                reply.MessageId ??= messageId;
            }

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
            case RoomSettingsEvent e:
                RoomSettingsReceived?.Invoke(e);
                break;
            case ToolApprovalEvent e:
                ToolApprovalReceived?.Invoke(e);
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
