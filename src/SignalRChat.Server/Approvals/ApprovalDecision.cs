using SignalRChat.Contracts;

namespace SignalRChat.Server.Approvals;

/// <summary>How a tool call's approval ended: <c>approved</c>, <c>denied</c> or <c>expired</c>, and by whom.</summary>
internal sealed record ApprovalDecision(string State, RoomMember? By)
{
    public bool Approved => State == ApprovalStates.Approved;
}
