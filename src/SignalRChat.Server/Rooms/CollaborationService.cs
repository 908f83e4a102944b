using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Approvals;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Tools;

namespace SignalRChat.Server.Rooms;

/// <summary>Working together in a room: its settings, who is typing, decisions on tool calls, and trying a reply again.</summary>
internal sealed class CollaborationService(RoomService rooms, IRoomStore store, IToolApprovals approvals, IOptions<RoomOptions> roomOptions)
{
    /// <summary>The fewest seconds between two <c>typing</c> events of one person in one room, across nodes.</summary>
    public static readonly TimeSpan TypingInterval = TimeSpan.FromSeconds(2);

    public const int MaxTopicChars = SetRoomTopicTool.MaxTopicChars;

    public async Task<RoomSettings> UpdateSettingsAsync(ChatUser user, string? roomId, RoomSettingsUpdate? update)
    {
        var room = RoomService.RequireRoomId(roomId);
        if (update is null || (update.Assistant, update.OnBusy, update.Topic) is (null, null, null))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "give at least one of assistant, onBusy, topic");
        }

        if (update.Assistant is not (null or AssistantModes.Always or AssistantModes.Mentioned))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "assistant must be \"always\" or \"mentioned\"");
        }

        if (update.OnBusy is not (null or BusyModes.Queue or BusyModes.Interrupt or BusyModes.Reject))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "onBusy must be \"queue\", \"interrupt\" or \"reject\"");
        }

        var topic = update.Topic?.Trim();
        if (topic is { Length: > MaxTopicChars } || (topic is not null && topic.Any(char.IsControl)))
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"the topic must be at most {MaxTopicChars} characters with no control characters (\"\" clears it)");
        }

        await rooms.RequireMemberAsync(user, room, "change the settings of");
        return await store.UpdateSettingsAsync(room, update with { Topic = topic }, new RoomMember(user.UserId, user.Name), checkPermission: true)
            ?? throw new ChatRequestException(ChatRefusal.Forbidden, $"room '{room}' is private: only the person who created it may change its settings");
    }

    /// <summary>Tells the room's other members that the caller is typing; extra calls within the interval are dropped quietly.</summary>
    public async Task TypingAsync(ChatUser user, string? roomId)
    {
        var room = RoomService.RequireRoomId(roomId);
        if (await store.PublishTypingAsync(new TypingEvent(room, user.UserId, user.Name), TypingInterval) == TypingOutcome.NotMember)
        {
            throw new ChatRequestException(ChatRefusal.Forbidden, $"join room '{room}' before you type in it");
        }
    }

    /// <summary>Approves or denies a pending tool call; true when this call decided it, false when it was already decided or expired.</summary>
    public async Task<bool> DecideToolCallAsync(ChatUser user, string? approvalId, bool approve)
    {
        if (string.IsNullOrEmpty(approvalId) || approvalId.Length > 64)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "approvalId is required");
        }

        // An approval of a room the caller is not in is refused exactly like one that does not exist.
        var room = await approvals.FindRoomAsync(approvalId, CancellationToken.None);
        if (room is null || !await store.IsMemberAsync(room, user.UserId))
        {
            throw new ChatRequestException(ChatRefusal.NotFound, $"no tool call '{approvalId}' waits for a decision in a room you belong to");
        }

        var decision = new Approvals.ApprovalDecision(approve ? ApprovalStates.Approved : ApprovalStates.Denied, new RoomMember(user.UserId, user.Name));
        return await approvals.DecideAsync(approvalId, decision, CancellationToken.None);
    }

    /// <summary>
    /// A new reply to the user message that <paramref name="messageId"/> answered (an assistant reply) or is (a user
    /// message); the new assistant message names the reply it replaces in <c>regenerates</c>, and the old one stays.
    /// </summary>
    public async Task<SendMessageResult> RegenerateAsync(ChatUser user, string? roomId, string? messageId, CancellationToken cancellationToken)
    {
        var room = RoomService.RequireRoomId(roomId);
        if (string.IsNullOrEmpty(messageId) || messageId.Length > 64)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "messageId is required");
        }

        await rooms.RequireMemberAsync(user, room, "regenerate replies in");
        var history = await store.GetHistoryAsync(room, roomOptions.Value.MaxHistoryMessages, cancellationToken);
        var index = FindIndex(history, messageId);
        if (index < 0)
        {
            throw new ChatRequestException(ChatRefusal.NotFound, $"no message '{messageId}' in room '{room}' (or it is older than the room keeps)");
        }

        var target = history[index];
        ChatMessage? question;
        string? replaces;
        if (target.Role == MessageRoles.User)
        {
            question = target;
            replaces = history.LastOrDefault(m => m.Role == MessageRoles.Assistant && m.ReplyTo == target.MessageId)?.MessageId;
        }
        else
        {
            if (target.State == MessageStates.Generating)
            {
                throw new ChatRequestException(ChatRefusal.Conflict, "that reply is still being generated: stop it or let it finish first");
            }

            // Replies written before replies named their question answered the user message just before them.
            question = target.ReplyTo is { } replyTo
                ? history.FirstOrDefault(m => m.MessageId == replyTo)
                : history.Take(index).LastOrDefault(m => m.Role == MessageRoles.User);
            replaces = target.MessageId;
        }

        if (question is null)
        {
            throw new ChatRequestException(ChatRefusal.NotFound, $"the message that reply '{messageId}' answered is older than the room keeps");
        }

        return await rooms.SubmitReplyAsync(user, room, question, replaces, cancellationToken);
    }

    private static int FindIndex(IReadOnlyList<ChatMessage> history, string messageId)
    {
        for (var i = history.Count - 1; i >= 0; i--)
        {
            if (history[i].MessageId == messageId)
            {
                return i;
            }
        }

        return -1;
    }
}
