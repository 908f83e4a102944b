using System.Security.Claims;
using Microsoft.AspNetCore.SignalR;

namespace SignalRChat.Server.Auth;

/// <summary>The signed-in user behind a hub call or an HTTP request.</summary>
public sealed record ChatUser(string UserId, string Name)
{
    public static ChatUser From(ClaimsPrincipal? principal)
    {
        var id = principal?.FindFirst(TokenService.UserIdClaim)?.Value;
        var name = principal?.FindFirst(TokenService.NameClaim)?.Value;
        if (string.IsNullOrEmpty(id))
        {
            throw new HubException("not signed in");
        }

        return new ChatUser(id, string.IsNullOrEmpty(name) ? id : name);
    }
}

/// <summary>SignalR's user id is the token's <c>sub</c>.</summary>
internal sealed class SubjectUserIdProvider : IUserIdProvider
{
    public string? GetUserId(HubConnectionContext connection) => connection.User.FindFirst(TokenService.UserIdClaim)?.Value;
}
