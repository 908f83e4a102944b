using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SignalRChat.Server.Auth;

/// <summary>
/// Short-lived single-use tickets for the query string (<c>POST /api/auth/ticket</c>): browsers cannot set headers on a
/// WebSocket or an EventSource, and a token in a URL can end up in a proxy's log. A ticket is an HS256 JWT of this service
/// for its own audience (<c>{Audience}:ticket</c>, so it is never accepted as a bearer token, nor a token as a ticket),
/// valid for <c>Chat:Auth:TicketLifetime</c> and never past the token it was issued for, and used once
/// (<see cref="ITicketLedger"/>). It authenticates as that token's session: same user, name, issuer, session start and expiry.
/// </summary>
internal sealed class TicketService(SigningKeyProvider key, IOptions<AuthOptions> options, ITicketLedger ledger, TimeProvider time)
{
    /// <summary>Where a refused ticket's reason waits for the challenge, which writes it as the 401's body.</summary>
    public const string RefusalItem = "chat.ticket.refusal";

    private const string TicketIdClaim = "jti";

    /// <summary>The issuer of the token the ticket stands for (the ticket's own issuer is always this service).</summary>
    private const string SessionIssuerClaim = "tis";

    /// <summary>The expiry (unix seconds) of the token the ticket stands for: the connection it opens is that session's.</summary>
    private const string TokenExpiryClaim = "tex";

    private const string PreferredUserNameClaim = "preferred_username";

    private readonly JsonWebTokenHandler _handler = new();

    private string TicketAudience => options.Value.Audience + ":ticket";

    /// <summary>A ticket for the session of <paramref name="principal"/> (authenticated by a bearer header), and when it expires.</summary>
    public (string Ticket, DateTimeOffset ExpiresAt)? Issue(ClaimsPrincipal principal)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        // JWT times are whole seconds: round up, but never past the token's own expiry.
        var expires = DateTimeOffset.FromUnixTimeSeconds((long)Math.Ceiling((now + settings.TicketLifetime).ToUnixTimeMilliseconds() / 1000.0));
        if (ReadSeconds(principal, "exp") is { } tokenExpiry && tokenExpiry < expires)
        {
            expires = tokenExpiry;
        }

        if (expires <= now)
        {
            return null;
        }

        var claims = new List<Claim>
        {
            new(TokenService.UserIdClaim, principal.FindFirst(TokenService.UserIdClaim)!.Value),
            new(TicketIdClaim, RandomNumberGenerator.GetHexString(32, lowercase: true)),
        };
        Copy(principal, claims, TokenService.NameClaim, TokenService.NameClaim);
        Copy(principal, claims, PreferredUserNameClaim, PreferredUserNameClaim);
        Copy(principal, claims, TokenService.IssuerClaim, SessionIssuerClaim);
        Copy(principal, claims, TokenService.SessionStartClaim, TokenService.SessionStartClaim);
        Copy(principal, claims, TokenService.AddressClaim, TokenService.AddressClaim);
        Copy(principal, claims, "exp", TokenExpiryClaim);

        var ticket = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = TicketAudience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime.AddSeconds(-1),
            Expires = expires.UtcDateTime,
            Subject = new ClaimsIdentity(claims),
            SigningCredentials = new SigningCredentials(key.Key, SecurityAlgorithms.HmacSha256),
        });
        return (ticket, expires);
    }

    /// <summary>True when a query-string token is meant as a ticket (its audience says so); it is then redeemed, never read as a token.</summary>
    public bool IsTicket(string token)
    {
        if (!_handler.CanReadToken(token))
        {
            return false;
        }

        try
        {
            return new JsonWebToken(token).Audiences.Contains(TicketAudience, StringComparer.Ordinal);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The session a valid, unexpired, unused ticket stands for (the ticket is used up), or why it is refused.</summary>
    public async Task<(ClaimsPrincipal? Principal, string? Refusal)> RedeemAsync(string ticket, string authenticationType, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var result = await _handler.ValidateTokenAsync(ticket, new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = settings.Issuer,
            ValidateAudience = true,
            ValidAudience = TicketAudience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = settings.ClockSkew,
            ValidateIssuerSigningKey = true,
            IssuerSigningKey = key.Key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        });
        if (!result.IsValid)
        {
            return (null, result.Exception is SecurityTokenExpiredException
                ? "the ticket has expired: get a new one from POST /api/auth/ticket just before you connect"
                : "the ticket is not valid: get one from POST /api/auth/ticket");
        }

        var claims = result.ClaimsIdentity;
        var id = claims.FindFirst(TicketIdClaim)?.Value;
        var subject = claims.FindFirst(TokenService.UserIdClaim)?.Value;
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(subject) || result.SecurityToken is not JsonWebToken token)
        {
            return (null, "the ticket is not valid: get one from POST /api/auth/ticket");
        }

        bool fresh;
        try
        {
            fresh = await ledger.TryUseAsync(id, new DateTimeOffset(token.ValidTo, TimeSpan.Zero) + settings.ClockSkew, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return (null, "tickets cannot be checked right now: try again in a moment, or send the token in the Authorization header");
        }

        if (!fresh)
        {
            return (null, "the ticket was used already: a ticket opens one connection; get a new one from POST /api/auth/ticket");
        }

        // The same claims a bearer token of this session leaves on a connection (see AuthExtensions.KeepOnlyUserClaims).
        var identity = new ClaimsIdentity(authenticationType, TokenService.NameClaim, null);
        identity.AddClaim(new Claim(TokenService.UserIdClaim, subject));
        foreach (var (from, to) in new[]
        {
            (TokenService.NameClaim, TokenService.NameClaim), (PreferredUserNameClaim, PreferredUserNameClaim), (SessionIssuerClaim, TokenService.IssuerClaim),
            (TokenService.SessionStartClaim, TokenService.SessionStartClaim), (TokenService.AddressClaim, TokenService.AddressClaim), (TokenExpiryClaim, "exp"),
        })
        {
            if (claims.FindFirst(from) is { } claim)
            {
                identity.AddClaim(new Claim(to, claim.Value));
            }
        }

        return (new ClaimsPrincipal(identity), null);
    }

    private static void Copy(ClaimsPrincipal principal, List<Claim> claims, string from, string to)
    {
        if (principal.FindFirst(from) is { } claim)
        {
            claims.Add(new Claim(to, claim.Value));
        }
    }

    private static DateTimeOffset? ReadSeconds(ClaimsPrincipal principal, string type) =>
        long.TryParse(principal.FindFirst(type)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
