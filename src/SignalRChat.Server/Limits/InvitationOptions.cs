namespace SignalRChat.Server.Limits;

/// <summary>The invitation limits of section <c>Chat:Limits</c>.</summary>
public sealed class InvitationOptions
{
    /// <summary>Invitations one member may send a minute, over all rooms (a token bucket).</summary>
    public int InvitationsPerMinute { get; set; } = 30;

    /// <summary>The most people one room's invitation list holds.</summary>
    public int MaxInvitationsPerRoom { get; set; } = 1000;

    /// <summary>The most rooms one person may be invited to without having joined them.</summary>
    public int MaxPendingInvitationsPerUser { get; set; } = 200;
}
