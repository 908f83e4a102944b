namespace SignalRChat.Server.Limits;

/// <summary>The invitation limit of section <c>Chat:Limits</c>.</summary>
public sealed class InvitationOptions
{
    /// <summary>Invitations one member may send a minute, over all rooms (a token bucket).</summary>
    public int InvitationsPerMinute { get; set; } = 30;
}
