using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Generation;

namespace SignalRChat.Server.Rooms;

/// <summary>What a room's settings say about a message: whether it starts a reply, and what happens to the reply already running.</summary>
internal static class ReplyPolicy
{
    /// <summary>In a <c>mentioned</c> room only a message containing <c>@assistant</c> (any case) starts a reply.</summary>
    public static bool StartsReply(RoomSettings settings, string text) =>
        settings.Assistant != AssistantModes.Mentioned || text.Contains(AssistantModes.Mention, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// With a reply running: <c>reject</c> refuses (nothing is stored), <c>interrupt</c> stops it, attributed to the sender,
    /// so the new one starts as soon as it has ended; <c>queue</c> lets the new one wait its turn.
    /// </summary>
    public static async Task MakeRoomAsync(GenerationHost generations, ChatUser user, string roomId, RoomActivity activity)
    {
        if (activity.ActiveGenerationId is not { } running)
        {
            return;
        }

        switch (activity.Settings.OnBusy)
        {
            case BusyModes.Reject:
                throw new ChatRequestException(ChatRefusal.Conflict,
                    $"the assistant is still answering in room '{roomId}', and this room's setting onBusy is \"reject\": wait for the reply to finish or stop it, then send again");
            case BusyModes.Interrupt:
                await generations.CancelAsync(roomId, running, new StopRequest(new RoomMember(user.UserId, user.Name), CancelReasons.Interrupted));
                break;
        }
    }
}
