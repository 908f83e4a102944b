using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;

namespace SignalRChat.Server.Auth;

/// <summary>
/// Each issuer its own namespace of user ids: an external token's <c>sub</c> becomes
/// <c>x{tag}:{sub}</c>, where the tag is taken from the issuer URL. Guest ids (<c>u-</c> and hex) never
/// contain a colon, so no external user can take a guest's id, nor a user of another issuer theirs.
/// </summary>
internal static class ExternalUserIds
{
    private const string PreferredUserNameClaim = "preferred_username";

    public static string For(string issuer, string subject) => $"x{Tag(issuer)}:{subject}";

    // Eight hex digits of the issuer's SHA-256: short, stable across nodes and restarts.
    private static string Tag(string issuer) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(issuer)))[..8];

    /// <summary>Replaces the validated token's identity by one with the namespaced id and only the claims the service reads.</summary>
    public static Task OnTokenValidated(TokenValidatedContext context)
    {
        var principal = context.Principal;
        var subject = principal?.FindFirst(TokenService.UserIdClaim)?.Value;
        var issuer = principal?.FindFirst(TokenService.IssuerClaim)?.Value;
        if (principal?.Identity is not { AuthenticationType: { } type } || string.IsNullOrEmpty(subject) || string.IsNullOrEmpty(issuer))
        {
            context.Fail("the token has no sub or iss");
            return Task.CompletedTask;
        }

        var identity = new ClaimsIdentity(type, TokenService.NameClaim, null);
        identity.AddClaim(new Claim(TokenService.UserIdClaim, For(issuer, subject)));
        foreach (var kept in new[] { TokenService.NameClaim, PreferredUserNameClaim, TokenService.IssuerClaim, "exp" })
        {
            if (principal.FindFirst(kept) is { } claim)
            {
                identity.AddClaim(new Claim(claim.Type, claim.Value));
            }
        }

        context.Principal = new ClaimsPrincipal(identity);
        return Task.CompletedTask;
    }
}
