using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Generation;
using SignalRChat.Server.Limits;

namespace SignalRChat.Server.Rooms;

/// <summary>
/// What every entry point (hub, SSE, NDJSON) asks of rooms. All argument, membership and limit
/// checks live here; a refusal is a <see cref="ChatRequestException"/> with a message for the user.
/// </summary>
internal sealed class RoomService
{
    private readonly IRoomStore _store;
    private readonly RoomFanout _fanout;
    private readonly ConnectionRegistry _connections;
    private readonly GenerationHost _generations;
    private readonly IOptions<LimitOptions> _limits;
    private readonly IUserLimiter _userLimits;
    private readonly ReplyBudget _budget;
    private readonly IOptions<InvitationOptions> _invitations;

    // The invitation bucket lives next to the message bucket of the same user, under its own key.
    private const string InvitationBucketPrefix = "invitations:";

    private readonly TimeProvider _time;

    public RoomService(IRoomStore store, RoomFanout fanout, ConnectionRegistry connections, GenerationHost generations, IOptions<LimitOptions> limits,
        IUserLimiter userLimits, ReplyBudget budget, IOptions<InvitationOptions> invitations, TimeProvider time)
    {
        _time = time;
        _invitations = invitations;
        _userLimits = userLimits;
        _budget = budget;
        _store = store;
        _fanout = fanout;
        _connections = connections;
        _generations = generations;
        _limits = limits;
        connections.Disconnected += DisconnectAsync;
    }

    /// <summary>Admits a new hub connection, or refuses it when the user already holds the most allowed.</summary>
    public async Task ConnectAsync(ChatUser user, string connectionId)
    {
        var max = _limits.Value.MaxConnectionsPerUser;
        if (!await _userLimits.TryOpenConnectionAsync(user.UserId, connectionId, max))
        {
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"connection limit: {max} connections per user (Chat:Limits:MaxConnectionsPerUser); close one first");
        }
    }

    public async Task<RoomSnapshot> JoinAsync(ChatUser user, string connectionId, string? roomId)
    {
        var room = RequireRoomId(roomId);
        var sender = RequireConnection(connectionId);
        // A repeated join of a room this connection is in changes nothing: no presence, no allowance spent, only a snapshot.
        if (!sender.InRoom(room))
        {
            await EnterAsync(user, sender, room);
        }

        return await _fanout.AttachAsync(room, sender);
    }

    /// <summary>
    /// Opens a plain HTTP event stream (SSE) on a room: the reader is present in the room while it
    /// reads. With <paramref name="afterSeq"/> it continues after that seq; otherwise, or when that
    /// seq is older than the log keeps, it starts from a snapshot.
    /// </summary>
    public async Task<(string RoomId, RoomSnapshot? Snapshot)> OpenStreamAsync(ChatUser user, IRoomSubscriber reader, string? roomId, long? afterSeq)
    {
        var room = RequireRoomId(roomId);
        if (afterSeq < 0)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "Last-Event-ID must be a seq: 0 or more");
        }

        // A stream is a connection in one room: it counts toward the user's connections like a hub connection.
        await OpenConnectionAsync(user, reader.Id);
        try
        {
            await TakeMembershipChangeAsync(user);
            await CountCreationAsync(user, room);
            await EnterStoreAsync(user, reader.Id, room);
        }
        catch
        {
            await _userLimits.CloseConnectionAsync(user.UserId, reader.Id);
            throw;
        }

        try
        {
            if (afterSeq is { } seq && !(await _fanout.ResumeAsync(room, reader, seq)).Reset)
            {
                return (room, null);
            }

            return (room, await _fanout.AttachAsync(room, reader));
        }
        catch
        {
            await CloseStreamAsync(user, reader, room);
            throw;
        }
    }

    /// <summary>
    /// The room as it is now, for a plain HTTP reader that may enter it, without subscribing: it
    /// tells where the running reply started, so a stream can then be opened from there.
    /// </summary>
    public async Task<RoomSnapshot> PeekAsync(ChatUser user, string? roomId, CancellationToken cancellationToken = default)
    {
        var room = RequireRoomId(roomId);
        if (!await _store.MayEnterAsync(room, user.UserId, cancellationToken))
        {
            throw NotInvited(room);
        }

        return await _store.GetSnapshotAsync(room, cancellationToken);
    }

    public async Task CloseStreamAsync(ChatUser user, IRoomSubscriber reader, string roomId)
    {
        _fanout.Detach(roomId, reader.Id);
        try
        {
            await _store.ExitAsync(roomId, user.UserId, reader.Id, endMembership: false);
        }
        finally
        {
            await _userLimits.CloseConnectionAsync(user.UserId, reader.Id);
        }
    }

    /// <summary>
    /// Sends a message for a plain HTTP client, which has no JoinRoom: it becomes a member of a room
    /// it may enter. With a <paramref name="watcher"/>, that watcher sees every event from before
    /// the message on, so none of the reply's events can be missed.
    /// </summary>
    /// <remarks>Every check comes before the room or the membership is touched: a refused message creates nothing.</remarks>
    public async Task<SendMessageResult> SendFromHttpAsync(ChatUser user, string? roomId, string? text, IRoomSubscriber? watcher, CancellationToken cancellationToken)
    {
        var room = RequireRoomId(roomId);
        RequireText(text);
        if (!await _store.MayEnterAsync(room, user.UserId, cancellationToken))
        {
            throw NotInvited(room);
        }

        await _budget.RequireAsync(user, cancellationToken);
        if (!await _store.IsMemberAsync(room, user.UserId, cancellationToken))
        {
            await TakeMembershipChangeAsync(user);
            await CountCreationAsync(user, room);
        }

        await TakeMessageAsync(user);
        // Checked after the message allowance is spent, so a flood of over-long texts is limited like any other.
        RequireLength(text!);
        if (watcher is not null)
        {
            await OpenConnectionAsync(user, watcher.Id);
        }

        try
        {
            if (await _store.EnsureMemberAsync(room, new RoomMember(user.UserId, user.Name), cancellationToken) == RoomEntry.NotInvited)
            {
                throw NotInvited(room);
            }

            if (watcher is not null)
            {
                await _fanout.AttachAsync(room, watcher);
            }

            return await _generations.SubmitAsync(user, room, text!, cancellationToken);
        }
        catch
        {
            await StopWatchingAsync(user, room, watcher);
            throw;
        }
    }

    /// <summary>
    /// Starts a reply for a plain HTTP client that is already a member (a regenerate), with
    /// <paramref name="watcher"/> seeing every event from before it on, as <see cref="SendFromHttpAsync"/> does for a message.
    /// </summary>
    public async Task<SendMessageResult> StartWatchedAsync(ChatUser user, string? roomId, IRoomSubscriber watcher, Func<Task<SendMessageResult>> start)
    {
        var room = RequireRoomId(roomId);
        await RequireMemberAsync(user, room, "regenerate replies in");
        await OpenConnectionAsync(user, watcher.Id);
        try
        {
            await _fanout.AttachAsync(room, watcher);
            return await start();
        }
        catch
        {
            await StopWatchingAsync(user, room, watcher);
            throw;
        }
    }

    public async Task StopWatchingAsync(ChatUser user, string roomId, IRoomSubscriber? watcher)
    {
        if (watcher is not null)
        {
            _fanout.Detach(roomId, watcher.Id);
            await _userLimits.CloseConnectionAsync(user.UserId, watcher.Id);
        }
    }

    public async Task<RoomSnapshot> CreateAsync(ChatUser user, string connectionId, string? roomId, CreateRoomOptions? options)
    {
        var room = RequireRoomId(roomId);
        var visibility = options?.Visibility ?? RoomVisibility.Public;
        if (visibility is not (RoomVisibility.Public or RoomVisibility.Private))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "visibility must be \"public\" or \"private\"");
        }

        var sender = RequireConnection(connectionId);
        var joining = !sender.InRoom(room);
        if (joining)
        {
            await TakeMembershipChangeAsync(user);
        }

        await CountCreationAsync(user, room);
        if (await _store.CreateRoomAsync(room, user.UserId, visibility) == RoomCreation.TakenByOther)
        {
            throw new ChatRequestException(ChatRefusal.Conflict, $"room '{room}' already exists: join it, or choose another id (a room keeps the visibility it was created with)");
        }

        if (joining)
        {
            await EnterAsync(user, sender, room, counted: true);
        }

        return await _fanout.AttachAsync(room, sender);
    }

    public Task LeaveAsync(ChatUser user, string connectionId, string? roomId) => ExitAsync(user, connectionId, roomId, endMembership: true);

    /// <summary>
    /// This connection stops receiving the room (as when it closes), and the person stays a member: the room stays in
    /// their list, its unread count goes on in <c>roomActivity</c>, and a later <c>JoinRoom</c> opens it again.
    /// </summary>
    public Task CloseAsync(ChatUser user, string connectionId, string? roomId) => ExitAsync(user, connectionId, roomId, endMembership: false);

    private async Task ExitAsync(ChatUser user, string connectionId, string? roomId, bool endMembership)
    {
        var room = RequireRoomId(roomId);
        var sender = RequireConnection(connectionId);
        // Counted but never refused: leaving must always work, and a leave follows a join, which was counted.
        await _userLimits.TryTakeAsync(user.UserId, MembershipAllowance, _limits.Value.MembershipChangesPerMinute, TimeSpan.FromMinutes(1));
        _fanout.Detach(room, connectionId);
        sender.RemoveRoom(room);
        await _store.ExitAsync(room, user.UserId, connectionId, endMembership);
    }

    public async Task InviteAsync(ChatUser user, string? roomId, string? userId)
    {
        var room = RequireRoomId(roomId);
        if (!UserIds.IsValid(userId))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"invalid userId: {UserIds.Rule}");
        }

        await RequireMemberAsync(user, room, "invite people to");
        var perMinute = _invitations.Value.InvitationsPerMinute;
        if (await _userLimits.TryTakeMessageAsync(InvitationBucketPrefix + user.UserId, perMinute) is { } wait)
        {
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"rate limit: {perMinute} invitations a minute, try again in {Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds))} s (Chat:Limits:InvitationsPerMinute)");
        }

        var limits = _invitations.Value;
        switch (await _store.InviteAsync(room, userId!, limits.MaxInvitationsPerRoom, limits.MaxPendingInvitationsPerUser))
        {
            case RoomInvitation.RoomFull:
                throw new ChatRequestException(ChatRefusal.Conflict,
                    $"invitation limit: room '{room}' has {limits.MaxInvitationsPerRoom} invitations, the most a room may have (Chat:Limits:MaxInvitationsPerRoom)");
            case RoomInvitation.InviteeFull:
                throw new ChatRequestException(ChatRefusal.Conflict,
                    $"invitation limit: that person has {limits.MaxPendingInvitationsPerUser} invitations to rooms they have not joined, the most allowed " +
                    "(Chat:Limits:MaxPendingInvitationsPerUser); they can be invited again once they join one of them");
        }
    }

    public async Task<SendMessageResult> SendAsync(ChatUser user, string? roomId, string? text, CancellationToken cancellationToken = default)
    {
        var room = RequireRoomId(roomId);
        RequireText(text);
        await RequireMemberAsync(user, room, "send to");
        var activity = await _store.GetActivityAsync(room, cancellationToken);
        if (!ReplyPolicy.StartsReply(activity.Settings, text!))
        {
            // People talking among themselves: the message is stored and shown, and no reply starts.
            await TakeMessageAsync(user);
            RequireLength(text!);
            _generations.RequireRecord();
            var appended = (MessageEvent)await _store.AppendAsync(new MessageEvent(room, GenerationHost.UserMessage(user, text!, _time)), CancellationToken.None);
            await _generations.RecordUserMessageAsync(room, appended.Message, CancellationToken.None);
            return new SendMessageResult(appended.Message.MessageId, null);
        }

        await _budget.RequireAsync(user, cancellationToken);
        await ReplyPolicy.MakeRoomAsync(_generations, user, room, activity);
        await TakeMessageAsync(user);
        // Checked after the message allowance is spent, so a flood of over-long texts is limited like any other.
        RequireLength(text!);
        return await _generations.SubmitAsync(user, room, text!, cancellationToken);
    }

    /// <summary>Queues a new reply to a user message already in the room (Regenerate), under the same checks as a message that starts one.</summary>
    public async Task<SendMessageResult> SubmitReplyAsync(ChatUser user, string room, ChatMessage userMessage, string? regenerates, CancellationToken cancellationToken)
    {
        var activity = await _store.GetActivityAsync(room, cancellationToken);
        await _budget.RequireAsync(user, cancellationToken);
        await ReplyPolicy.MakeRoomAsync(_generations, user, room, activity);
        await TakeMessageAsync(user);
        return await _generations.SubmitReplyAsync(user, room, userMessage, regenerates, cancellationToken);
    }

    public async Task<bool> CancelAsync(ChatUser user, string? generationId)
    {
        if (string.IsNullOrEmpty(generationId))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "generationId is required");
        }

        // A reply in a room the caller is not in is answered as one that does not exist: neither the
        // reply nor its room is revealed to an outsider holding its id.
        var room = await _generations.FindRoomAsync(generationId);
        if (room is null || !await _store.IsMemberAsync(room, user.UserId))
        {
            return false;
        }

        return await _generations.CancelAsync(room, generationId, StopRequest.ByMember(new RoomMember(user.UserId, user.Name)));
    }

    public async Task<ResumeResult> ResumeAsync(ChatUser user, string connectionId, string? roomId, long afterSeq)
    {
        var room = RequireRoomId(roomId);
        if (afterSeq < 0)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "afterSeq must be 0 or more");
        }

        var sender = RequireConnection(connectionId);
        await RequireMemberAsync(user, room, "resume");
        await EnterAsync(user, sender, room);
        return await _fanout.ResumeAsync(room, sender, afterSeq);
    }

    /// <summary>Enters the room on this connection; one it is in already costs nothing and changes nothing.</summary>
    private async Task EnterAsync(ChatUser user, ConnectionSender sender, string room, bool counted = false)
    {
        if (!sender.TryAddRoom(room, _limits.Value.MaxRoomsPerConnection, out var added))
        {
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"this connection is already in {_limits.Value.MaxRoomsPerConnection} rooms (Chat:Limits:MaxRoomsPerConnection); leave or close one first");
        }

        if (!added)
        {
            return;
        }

        try
        {
            if (!counted)
            {
                await TakeMembershipChangeAsync(user);
                await CountCreationAsync(user, room);
            }

            await EnterStoreAsync(user, sender.Id, room);
        }
        catch
        {
            sender.RemoveRoom(room);
            throw;
        }
    }

    private async Task EnterStoreAsync(ChatUser user, string presenceId, string room)
    {
        if (await _store.EnterAsync(room, new RoomMember(user.UserId, user.Name), presenceId) == RoomEntry.NotInvited)
        {
            throw NotInvited(room);
        }
    }

    private static ChatRequestException NotInvited(string room) =>
        new(ChatRefusal.Forbidden, $"room '{room}' is private: a member has to invite you");

    private static void RequireText(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "the message is empty");
        }

        if (MessageText.FirstControl(text) is { } control)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest,
                $"the message contains the control character U+{control:X4}; only newline and tab are allowed");
        }
    }

    private void RequireLength(string text)
    {
        var maxChars = _limits.Value.MaxMessageChars;
        if (text.Length > maxChars)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest,
                $"the message is too long: {text.Length} characters, the limit is {maxChars} (Chat:Limits:MaxMessageChars)");
        }
    }

    private const string MembershipAllowance = "membership";
    private const string CreationAllowance = "rooms-created";

    private async Task OpenConnectionAsync(ChatUser user, string connectionId)
    {
        var max = _limits.Value.MaxConnectionsPerUser;
        if (!await _userLimits.TryOpenConnectionAsync(user.UserId, connectionId, max))
        {
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"connection limit: {max} connections per user (Chat:Limits:MaxConnectionsPerUser), streams included; close one first");
        }
    }

    private async Task TakeMembershipChangeAsync(ChatUser user)
    {
        var perMinute = _limits.Value.MembershipChangesPerMinute;
        if (await _userLimits.TryTakeAsync(user.UserId, MembershipAllowance, perMinute, TimeSpan.FromMinutes(1)) is { } wait)
        {
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"rate limit: {perMinute} joins and leaves a minute, try again in {Seconds(wait)} s (Chat:Limits:MembershipChangesPerMinute)");
        }
    }

    /// <summary>Entering an unknown room brings it into being, which spends one of the user's room creations.</summary>
    private async Task CountCreationAsync(ChatUser user, string room)
    {
        if (await _store.ExistsAsync(room))
        {
            return;
        }

        var perHour = _limits.Value.RoomsCreatedPerHour;
        if (await _userLimits.TryTakeAsync(user.UserId, CreationAllowance, perHour, TimeSpan.FromHours(1)) is { } wait)
        {
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"rate limit: {perHour} new rooms an hour, room '{room}' does not exist yet; try again in {Seconds(wait)} s or join an existing room (Chat:Limits:RoomsCreatedPerHour)");
        }
    }

    private static int Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));

    private async Task TakeMessageAsync(ChatUser user)
    {
        var perMinute = _limits.Value.MessagesPerMinute;
        if (await _userLimits.TryTakeMessageAsync(user.UserId, perMinute) is { } wait)
        {
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"rate limit: {perMinute} messages a minute, try again in {Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds))} s (Chat:Limits:MessagesPerMinute)");
        }
    }

    private async Task DisconnectAsync(ConnectionSender sender)
    {
        var user = ChatUser.From(sender.Connection.User);
        await _userLimits.CloseConnectionAsync(user.UserId, sender.Id);
        foreach (var room in sender.TakeRooms())
        {
            _fanout.Detach(room, sender.Id);
            try
            {
                await _store.ExitAsync(room, user.UserId, sender.Id, endMembership: false);
            }
            catch (ChatRequestException)
            {
                // The store is unreachable; this user shows as present until the store is back and they leave again.
            }
        }
    }

    internal async Task RequireMemberAsync(ChatUser user, string room, string action)
    {
        if (!await _store.IsMemberAsync(room, user.UserId))
        {
            throw new ChatRequestException(ChatRefusal.Forbidden, $"join room '{room}' before you {action} it");
        }
    }

    private ConnectionSender RequireConnection(string connectionId) =>
        _connections.Find(connectionId) ?? throw new ChatRequestException(ChatRefusal.Unavailable, "this connection is closing");

    internal static string RequireRoomId(string? roomId) =>
        RoomIds.IsValid(roomId) ? roomId! : throw new ChatRequestException(ChatRefusal.BadRequest, $"invalid room id: {RoomIds.Rule}");
}
