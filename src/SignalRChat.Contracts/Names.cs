namespace SignalRChat.Contracts;

/// <summary>Hub route, hub method names and event names of the public contract.</summary>
public static class ChatProtocol
{
    public const string HubPath = "/hubs/chat";

    public static class Methods
    {
        public const string JoinRoom = nameof(JoinRoom);
        public const string LeaveRoom = nameof(LeaveRoom);

        /// <summary>Extension: this connection stops receiving the room's events; the caller stays a member (the room stays in their list).</summary>
        public const string CloseRoom = nameof(CloseRoom);
        public const string SendMessage = nameof(SendMessage);
        public const string CancelGeneration = nameof(CancelGeneration);
        public const string CreateRoom = nameof(CreateRoom);
        public const string InviteToRoom = nameof(InviteToRoom);
        public const string Resume = nameof(Resume);
        public const string GetHistory = nameof(GetHistory);
        public const string ListRooms = nameof(ListRooms);
        public const string MarkRead = nameof(MarkRead);
        public const string UpdateRoomSettings = nameof(UpdateRoomSettings);
        public const string Typing = nameof(Typing);
        public const string DecideToolCall = nameof(DecideToolCall);
        public const string Regenerate = nameof(Regenerate);
    }

    /// <summary>
    /// Query options of the hub URL (extensions of the contract). <c>finalText=omit</c>: the final
    /// <c>status</c> leaves out <c>text</c>, for a client that builds the reply from the snapshot and
    /// the deltas itself, so a reply's text crosses the wire once instead of twice.
    /// <c>tokens=compact</c>: token deltas come as <see cref="CompactEvents"/> instead of <c>token</c>.
    /// </summary>
    public static class Query
    {
        public const string FinalText = "finalText";
        public const string Omit = "omit";
        public const string Tokens = "tokens";
        public const string Compact = "compact";
    }

    /// <summary>
    /// The token delta in the shape a <c>tokens=compact</c> connection receives: positional arguments,
    /// no generation id (one reply runs in a room at a time, and its <c>status</c> comes before its
    /// deltas, so the client knows it) and, instead of the room id, the room's number on the node
    /// the connection is on, announced by <see cref="RoomNumber"/>. Every other event keeps its contract shape.
    /// </summary>
    public static class CompactEvents
    {
        /// <summary>One delta: arguments <c>(roomNumber, seq, text)</c>.</summary>
        public const string Token = "t";

        /// <summary>Joined deltas covering <c>firstSeq..seq</c>: arguments <c>(roomNumber, seq, text, firstSeq)</c>.</summary>
        public const string TokenRun = "tr";

        /// <summary>
        /// <c>(roomId, roomNumber)</c>: from here on, on this connection, <c>t</c> and <c>tr</c> with this number belong to
        /// this room. Sent when the connection starts receiving the room (<c>JoinRoom</c>, <c>Resume</c>), before any of its
        /// deltas; a number is the room's while the connection receives it, and may name another room after a later <c>rn</c>.
        /// </summary>
        public const string RoomNumber = "rn";
    }

    public static class Events
    {
        public const string Message = "message";
        public const string Token = "token";
        public const string ToolProgress = "toolProgress";
        public const string Status = "status";
        public const string Presence = "presence";
        public const string RoomSettings = "roomSettings";
        public const string ToolApproval = "toolApproval";

        /// <summary>Ephemeral: no seq, never logged or replayed.</summary>
        public const string Typing = "typing";

        /// <summary>User events: sent to every connection of a user, not tied to a room's seq.</summary>
        public const string RoomActivity = "roomActivity";
        public const string Invited = "invited";
        public const string ReadMark = "readMark";
    }
}

/// <summary>Values of <c>Message.role</c>.</summary>
public static class MessageRoles
{
    public const string User = "user";
    public const string Assistant = "assistant";
}

/// <summary>Values of <c>Message.state</c>.</summary>
public static class MessageStates
{
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";
    public const string Failed = "failed";
    public const string Generating = "generating";

    /// <summary>The state an assistant message keeps after its generation ended in <paramref name="generationState"/>.</summary>
    public static string AfterGeneration(string generationState) => generationState switch
    {
        GenerationStates.Completed => Completed,
        GenerationStates.Cancelled => Cancelled,
        _ => Failed,
    };
}

/// <summary>Values of <c>status.state</c>.</summary>
public static class GenerationStates
{
    public const string Queued = "queued";
    public const string Thinking = "thinking";
    public const string Generating = "generating";
    public const string Tool = "tool";
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";
    public const string Failed = "failed";

    /// <summary>True for the states that end a generation.</summary>
    public static bool IsFinal(string state) => state is Completed or Cancelled or Failed;
}

/// <summary>Values of a room's <c>assistant</c> setting.</summary>
public static class AssistantModes
{
    /// <summary>Every message starts a reply.</summary>
    public const string Always = "always";

    /// <summary>Only a message containing <c>@assistant</c> (any case) starts a reply.</summary>
    public const string Mentioned = "mentioned";

    /// <summary>The mention that starts a reply in a <c>mentioned</c> room.</summary>
    public const string Mention = "@assistant";
}

/// <summary>Values of a room's <c>onBusy</c> setting: what a message that starts a reply does while another runs.</summary>
public static class BusyModes
{
    public const string Queue = "queue";
    public const string Interrupt = "interrupt";
    public const string Reject = "reject";
}

/// <summary>Values of <c>toolApproval.state</c>.</summary>
public static class ApprovalStates
{
    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Denied = "denied";
    public const string Expired = "expired";
}

/// <summary>Values of a <c>cancelled</c> status's <c>reason</c>.</summary>
public static class CancelReasons
{
    /// <summary>A member pressed Stop.</summary>
    public const string Stopped = "stopped";

    /// <summary>A member's new message interrupted it (room setting <c>onBusy: "interrupt"</c>).</summary>
    public const string Interrupted = "interrupted";

    /// <summary>The server shut down before it finished.</summary>
    public const string Shutdown = "shutdown";

    /// <summary>A limit ended it (the longest reply, the daily budget).</summary>
    public const string Limit = "limit";
}

/// <summary>Values of <c>toolProgress.phase</c>.</summary>
public static class ToolPhases
{
    public const string Started = "started";
    public const string Progress = "progress";
    public const string Completed = "completed";
    public const string Failed = "failed";
}

/// <summary>Values of <c>presence.state</c>.</summary>
public static class PresenceStates
{
    public const string Joined = "joined";
    public const string Left = "left";
}

/// <summary>Values of a room's visibility.</summary>
public static class RoomVisibility
{
    public const string Public = "public";
    public const string Private = "private";
}
