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

    public string Issue(string userId, string name)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var settings = options.Value;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + settings.TokenLifetime,
            Subject = new ClaimsIdentity([new Claim(UserIdClaim, userId), new Claim(NameClaim, name)]),
            SigningCredentials = new SigningCredentials(key.Key, SecurityAlgorithms.HmacSha256),
        });
    }

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
