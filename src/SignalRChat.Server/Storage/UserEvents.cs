using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;
using SignalRChat.Server.Hubs;

namespace SignalRChat.Server.Storage;

/// <summary>
/// A person's own events (<c>roomActivity</c>, <c>invited</c>, <c>readMark</c>), sent to every connection
/// of that user with <c>Clients.User</c>: on several nodes the Redis user backplane carries them to the others.
/// </summary>
internal sealed class UserEvents(IHubContext<ChatHub> hub, IChatRecord record, ChatRecordWriter writer, ILogger<UserEvents> logger)
{
    /// <summary>Tells each person of the room its new last message and their unread count, once the message is in the record.</summary>
    public void RoomActivity(StoredMessage last) => _ = SendRoomActivityAsync(last);

    private async Task SendRoomActivityAsync(StoredMessage last)
    {
        try
        {
            // After what is queued before it (the message itself) is written, so the count includes it.
            await writer.FlushAsync(CancellationToken.None);
            var preview = last.ToPreview();
            foreach (var (userId, unread) in await record.GetUnreadAsync(last.RoomId, CancellationToken.None))
            {
                await hub.Clients.User(userId).SendAsync(ChatProtocol.Events.RoomActivity, new RoomActivityEvent(last.RoomId, last.CreatedAt, preview, unread));
            }
        }
        catch (Exception ex)
        {
            // A user event is a convenience for other devices; the room's own stream is unaffected.
            StorageLog.UserEventFailed(logger, last.RoomId, ex);
        }
    }

    public Task InvitedAsync(string userId, InvitedEvent invited) => hub.Clients.User(userId).SendAsync(ChatProtocol.Events.Invited, invited);

    public Task ReadMarkAsync(string userId, ReadMarkEvent mark) => hub.Clients.User(userId).SendAsync(ChatProtocol.Events.ReadMark, mark);
}
