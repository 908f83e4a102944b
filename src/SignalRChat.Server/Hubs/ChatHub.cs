using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Storage;

namespace SignalRChat.Server.Hubs;

/// <summary>The chat hub at <c>/hubs/chat</c>: validates, asks <see cref="RoomService"/>, returns. No reply runs in here.</summary>
[Authorize]
internal sealed class ChatHub(RoomService rooms, RoomRecordService record, CollaborationService collaboration) : Hub
{
    private ChatUser Caller => ChatUser.From(Context.User);

    public override Task OnConnectedAsync() =>
        Context.GetHttpContext() is { } http && EventShape.Refusal(http.Request.Query) is { } refusal
            ? throw new HubException(refusal)
            : rooms.ConnectAsync(Caller, Context.ConnectionId);

    public Task<RoomSnapshot> JoinRoom(string roomId) => rooms.JoinAsync(Caller, Context.ConnectionId, roomId);

    public Task LeaveRoom(string roomId) => rooms.LeaveAsync(Caller, Context.ConnectionId, roomId);

    public Task CloseRoom(string roomId) => rooms.CloseAsync(Caller, Context.ConnectionId, roomId);

    public Task<RoomSnapshot> CreateRoom(string roomId, CreateRoomOptions? options) => rooms.CreateAsync(Caller, Context.ConnectionId, roomId, options);

    public Task InviteToRoom(string roomId, string userId) => record.InviteAsync(Caller, roomId, userId, Context.ConnectionAborted);

    public Task<SendMessageResult> SendMessage(string roomId, string text) => rooms.SendAsync(Caller, roomId, text, Context.ConnectionAborted);

    public Task<bool> CancelGeneration(string generationId) => rooms.CancelAsync(Caller, generationId);

    public Task<ResumeResult> Resume(string roomId, long afterSeq) => rooms.ResumeAsync(Caller, Context.ConnectionId, roomId, afterSeq);

    public Task<HistoryPage> GetHistory(string roomId, long? beforeSeq, int limit) => record.GetHistoryAsync(Caller, roomId, beforeSeq, limit, Context.ConnectionAborted);

    public Task<IReadOnlyList<RoomSummary>> ListRooms() => record.ListRoomsAsync(Caller, Context.ConnectionAborted);

    public Task MarkRead(string roomId, long seq) => record.MarkReadAsync(Caller, roomId, seq, Context.ConnectionAborted);

    public Task<RoomSettings> UpdateRoomSettings(string roomId, RoomSettingsUpdate? settings) => collaboration.UpdateSettingsAsync(Caller, roomId, settings);

    public Task Typing(string roomId) => collaboration.TypingAsync(Caller, roomId);

    public Task<bool> DecideToolCall(string approvalId, bool approve) => collaboration.DecideToolCallAsync(Caller, approvalId, approve);

    public Task<SendMessageResult> Regenerate(string roomId, string messageId) => collaboration.RegenerateAsync(Caller, roomId, messageId, Context.ConnectionAborted);
}

/// <summary>Turns refusals into <see cref="HubException"/>s, whose message reaches the caller; the connection stays open.</summary>
internal sealed class ChatRequestHubFilter : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        try
        {
            return await next(invocationContext);
        }
        catch (ChatRequestException ex)
        {
            throw new HubException(ex.Message);
        }
        catch (Exception ex) when (Redis.RedisScriptInvoker.IsUnreachable(ex))
        {
            throw new HubException(Redis.RedisScriptInvoker.Unavailable().Message);
        }
    }

    // A HubException thrown here closes the connection and its message reaches the client.
    public async Task OnConnectedAsync(HubLifetimeContext context, Func<HubLifetimeContext, Task> next)
    {
        try
        {
            await next(context);
        }
        catch (ChatRequestException ex)
        {
            throw new HubException(ex.Message);
        }
    }
}
