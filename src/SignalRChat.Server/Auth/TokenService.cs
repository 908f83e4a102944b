using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SignalRChat.Server.Auth;

/// <summary>Issues the HS256 JWTs that the hub and room endpoints accept.</summary>
internal sealed class TokenService(SigningKeyProvider key, IOptions<AuthOptions> options, TimeProvider time)
{
    public const string NameClaim = "name";
    public const string UserIdClaim = "sub";

    private readonly JsonWebTokenHandler _handler = new();

    public const string IssuerClaim = "iss";

    /// <summary>When the chain of refreshed tokens began (unix seconds): a refresh keeps it, so a session cannot outlive <see cref="AuthOptions.MaxSessionAge"/>.</summary>
    public const string SessionStartClaim = "sst";

    /// <summary>The client address a guest signed in from (<see cref="ClientAddress.PartitionKey"/>), kept by refresh: guests of one address share a budget.</summary>
    public const string AddressClaim = "sia";

    /// <summary>A token for a session that began at <paramref name="sessionStart"/> (a new one: now); it never outlives the session.</summary>
    public string Issue(string userId, string name, DateTimeOffset? sessionStart = null, string? address = null)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var settings = options.Value;
        var start = sessionStart?.UtcDateTime ?? now;
        var expires = now + settings.TokenLifetime;
        if (start + settings.MaxSessionAge < expires)
        {
            expires = start + settings.MaxSessionAge;
        }

        var startSeconds = new DateTimeOffset(start, TimeSpan.Zero).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = expires,
            Subject = new ClaimsIdentity([new Claim(UserIdClaim, userId), new Claim(NameClaim, name),
                new Claim(SessionStartClaim, startSeconds, ClaimValueTypes.Integer64), .. address is null ? [] : new[] { new Claim(AddressClaim, address) }]),
            SigningCredentials = new SigningCredentials(key.Key, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>The session start a token carries, or null for a token without one (issued before sessions had an age).</summary>
    public static DateTimeOffset? SessionStartOf(ClaimsPrincipal principal) =>
        long.TryParse(principal.FindFirst(SessionStartClaim)?.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    public TokenValidationParameters ValidationParameters()
    {
        var settings = options.Value;
        return new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = settings.Issuer,
            ValidateAudience = true,
            ValidAudience = settings.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = settings.ClockSkew,
            ValidateIssuerSigningKey = true,
            IssuerSigningKey = key.Key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            NameClaimType = NameClaim,
        };
    }
}
