using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Storage;

/// <summary>
/// What the hub and HTTP ask of the record: a room's history page by page, the caller's rooms, read
/// marks, and invitations with their user event. Membership is checked as for every other room call.
/// </summary>
internal sealed class RoomRecordService(RoomService rooms, IRoomStore store, IChatRecord record, ChatRecordWriter writer, ChatRecorder recorder,
    UserEvents userEvents, TimeProvider time)
{
    /// <summary>How long a read waits for the writes queued before it, so that it sees what the caller already saw in the stream.</summary>
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(2);

    public const int MaxPage = 200;

    public async Task<HistoryPage> GetHistoryAsync(ChatUser user, string? roomId, long? beforeSeq, int? limit, CancellationToken cancellationToken)
    {
        var room = RequireRoomId(roomId);
        if (beforeSeq < 0)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "beforeSeq must be 0 (the newest) or more");
        }

        if (limit is not (>= 1 and <= MaxPage))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"limit must be 1 to {MaxPage}");
        }

        await RequireMemberAsync(user, room, "read the history of");
        var page = await ReadAsync(() => record.GetMessagesAsync(room, beforeSeq, limit.Value, cancellationToken));
        return new HistoryPage(room, page.Messages.Select(m => m.ToMessage()).ToList(), page.HasMore);
    }

    public async Task<IReadOnlyList<RoomSummary>> ListRoomsAsync(ChatUser user, CancellationToken cancellationToken)
    {
        var listed = await ReadAsync(() => record.ListRoomsAsync(user.UserId, cancellationToken));
        return listed.Select(r => new RoomSummary(r.RoomId, r.Visibility, r.LastActivity, r.LastMessage?.ToPreview(), r.MemberCount, r.Unread, r.LastSeq)).ToList();
    }

    /// <summary>Records how far the caller read (never backwards) and tells their other connections.</summary>
    public async Task MarkReadAsync(ChatUser user, string? roomId, long seq, CancellationToken cancellationToken)
    {
        var room = RequireRoomId(roomId);
        if (seq < 0)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "seq must be 0 or more");
        }

        await RequireMemberAsync(user, room, "mark as read");
        try
        {
            await recorder.MarkReadAsync(room, user.UserId, seq, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ChatRequestException(ChatRefusal.Unavailable, $"the read mark was not stored in time ({record.Description}): try again in a moment");
        }

        await userEvents.ReadMarkAsync(user.UserId, new ReadMarkEvent(room, seq));
    }

    /// <summary>Invites a person (as <see cref="RoomService.InviteAsync"/>) and tells every connection of theirs.</summary>
    public async Task InviteAsync(ChatUser user, string? roomId, string? userId, CancellationToken cancellationToken)
    {
        await rooms.InviteAsync(user, roomId, userId);
        var stored = await ReadAsync(() => record.FindRoomAsync(roomId!, cancellationToken));
        await userEvents.InvitedAsync(userId!, new InvitedEvent(roomId!, stored?.Visibility ?? RoomVisibility.Public, new RoomMember(user.UserId, user.Name)));
    }

    private async Task RequireMemberAsync(ChatUser user, string room, string action)
    {
        if (!await store.IsMemberAsync(room, user.UserId))
        {
            throw new ChatRequestException(ChatRefusal.Forbidden, $"join room '{room}' before you {action} it");
        }
    }

    private async Task<T> ReadAsync<T>(Func<Task<T>> read)
    {
        try
        {
            // A reply's end is queued before its final status goes out: a client that saw it finds it here too.
            await writer.FlushAsync(CancellationToken.None).WaitAsync(CatchUp, time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return await read();
        }
        catch (Exception ex) when (ex is not ChatRequestException and not OperationCanceledException)
        {
            throw new ChatRequestException(ChatRefusal.Unavailable, $"{record.Description} did not answer: try again in a moment");
        }
    }

    private static string RequireRoomId(string? roomId) =>
        RoomIds.IsValid(roomId) ? roomId! : throw new ChatRequestException(ChatRefusal.BadRequest, $"invalid room id: {RoomIds.Rule}");
}
