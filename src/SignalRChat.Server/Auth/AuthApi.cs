using System.Security.Claims;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Security;

namespace SignalRChat.Server.Auth;

/// <summary><c>POST /api/auth/guest</c>, <c>POST /api/auth/refresh</c> and <c>POST /api/auth/ticket</c>.</summary>
internal static class AuthApi
{
    public sealed record GuestRequest(string? Name);

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/auth").WithSmallBodies();
        group.MapPost("/guest", SignInAsGuest).AllowAnonymous().RequireRateLimiting(GuestSignInLimit.Policy);
        group.MapPost("/refresh", Refresh).RequireAuthorization().RequireRateLimiting(TokenRefreshLimit.Policy);
        group.MapPost("/ticket", IssueTicket).RequireAuthorization().RequireRateLimiting(TicketIssueLimit.Policy);
        return app;
    }

    private static IResult SignInAsGuest(GuestRequest? request, TokenService tokens, IOptions<AuthOptions> options,
        IHostEnvironment environment, ILogger<TokenService> logger, HttpContext http)
    {
        if (!GuestsAllowed(options.Value, environment))
        {
            return Results.Json(new { error = "guest sign-in is switched off (Chat:Auth:AllowGuests)" }, statusCode: StatusCodes.Status403Forbidden);
        }

        if (!GuestNames.TryNormalize(request?.Name, out var name, out var error))
        {
            return Results.BadRequest(new { error });
        }

        // 128 random bits: a guest id cannot be guessed, so neither can an invitation meant for it.
        var userId = "u-" + System.Security.Cryptography.RandomNumberGenerator.GetHexString(32, lowercase: true);
        AuthLog.GuestSignedIn(logger, userId, name);
        return Results.Ok(new GuestSession(tokens.Issue(userId, name, address: ClientAddress.PartitionKey(http.Connection.RemoteIpAddress)), userId, name));
    }

    /// <summary>
    /// A still-valid token of this service buys a new one for the same user, so clients never have to sign in
    /// again, until the session reaches <c>Chat:Auth:MaxSessionAge</c>. This service issues only guest tokens,
    /// so none is refreshed while guests are switched off.
    /// </summary>
    private static IResult Refresh(ClaimsPrincipal principal, TokenService tokens, IOptions<AuthOptions> options, IHostEnvironment environment, TimeProvider time)
    {
        var settings = options.Value;
        if (principal.FindFirst(TokenService.IssuerClaim)?.Value != settings.Issuer)
        {
            return Results.BadRequest(new { error = "only tokens of this service can be refreshed here; get a new one from your identity provider" });
        }

        if (!GuestsAllowed(settings, environment))
        {
            return Results.Json(new { error = "guest sign-in is switched off (Chat:Auth:AllowGuests): guest tokens are not refreshed" },
                statusCode: StatusCodes.Status403Forbidden);
        }

        // A token from before sessions had an age starts its session now.
        var now = time.GetUtcNow();
        var start = TokenService.SessionStartOf(principal) ?? now;
        if (now - start >= settings.MaxSessionAge)
        {
            return Results.Json(new { error = $"this session is older than {settings.MaxSessionAge} (Chat:Auth:MaxSessionAge): sign in again" },
                statusCode: StatusCodes.Status401Unauthorized);
        }

        var user = ChatUser.From(principal);
        return Results.Ok(new GuestSession(tokens.Issue(user.UserId, user.Name, start, user.Address), user.UserId, user.Name));
    }

    /// <summary>
    /// A single-use ticket for the query string of the hub or the event stream, for the session whose token came in the
    /// <c>Authorization</c> header (this route never reads the query). Any accepted token will do, an identity provider's too.
    /// </summary>
    private static IResult IssueTicket(ClaimsPrincipal principal, TicketService tickets)
    {
        if (tickets.Issue(principal) is not { } issued)
        {
            return Results.Json(new { error = "the token expires now: refresh it or sign in again, then ask for a ticket" },
                statusCode: StatusCodes.Status401Unauthorized);
        }

        return Results.Ok(new TicketResponse(issued.Ticket, issued.ExpiresAt));
    }

    public sealed record TicketResponse(string Ticket, DateTimeOffset ExpiresAt);

    private static bool GuestsAllowed(AuthOptions options, IHostEnvironment environment) => options.AllowGuests ?? environment.IsDevelopment();
}
