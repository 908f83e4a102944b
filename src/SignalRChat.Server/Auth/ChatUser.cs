using System.Security.Claims;
using Microsoft.AspNetCore.SignalR;

namespace SignalRChat.Server.Auth;

/// <summary>The signed-in user behind a hub call or an HTTP request.</summary>
public sealed record ChatUser(string UserId, string Name)
{
    private const string PreferredUserNameClaim = "preferred_username";

    /// <summary>The client address (an IPv6 /64) a guest session signed in from, for the per-address budget; null for other users.</summary>
    public string? Address { get; init; }

    public static ChatUser From(ClaimsPrincipal? principal)
    {
        var id = principal?.FindFirst(TokenService.UserIdClaim)?.Value;
        if (string.IsNullOrEmpty(id))
        {
            throw new HubException("not signed in");
        }

        // Names from an external identity provider obey the same rules as guest names, so none can carry bidi tricks.
        var raw = principal?.FindFirst(TokenService.NameClaim)?.Value ?? principal?.FindFirst(PreferredUserNameClaim)?.Value;
        return new ChatUser(id, GuestNames.TryNormalize(raw, out var name, out _) ? name : id)
        {
            Address = principal?.FindFirst(TokenService.AddressClaim)?.Value,
        };
    }
}

/// <summary>SignalR's user id is the token's <c>sub</c>.</summary>
internal sealed class SubjectUserIdProvider : IUserIdProvider
{
    public string? GetUserId(HubConnectionContext connection) => connection.User.FindFirst(TokenService.UserIdClaim)?.Value;
}
