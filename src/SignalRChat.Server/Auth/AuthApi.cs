using System.Security.Claims;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Auth;

/// <summary><c>POST /api/auth/guest</c> and <c>POST /api/auth/refresh</c>.</summary>
internal static class AuthApi
{
    public sealed record GuestRequest(string? Name);

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/auth");
        group.MapPost("/guest", SignInAsGuest).AllowAnonymous().RequireRateLimiting(GuestSignInLimit.Policy);
        group.MapPost("/refresh", Refresh).RequireAuthorization();
        return app;
    }

    private static IResult SignInAsGuest(GuestRequest? request, TokenService tokens, IOptions<AuthOptions> options,
        IHostEnvironment environment, ILogger<TokenService> logger)
    {
        if (!(options.Value.AllowGuests ?? environment.IsDevelopment()))
        {
            return Results.Json(new { error = "guest sign-in is switched off (Chat:Auth:AllowGuests)" }, statusCode: StatusCodes.Status403Forbidden);
        }

        if (!GuestNames.TryNormalize(request?.Name, out var name, out var error))
        {
            return Results.BadRequest(new { error });
        }

        var userId = "u-" + Guid.NewGuid().ToString("N")[..12];
        AuthLog.GuestSignedIn(logger, userId, name);
        return Results.Ok(new GuestSession(tokens.Issue(userId, name), userId, name));
    }

    /// <summary>A still-valid token of this service buys a new one for the same user, so clients never have to sign in again.</summary>
    private static IResult Refresh(ClaimsPrincipal principal, TokenService tokens, IOptions<AuthOptions> options)
    {
        if (principal.FindFirst(TokenService.IssuerClaim)?.Value != options.Value.Issuer)
        {
            return Results.BadRequest(new { error = "only tokens of this service can be refreshed here; get a new one from your identity provider" });
        }

        var user = ChatUser.From(principal);
        return Results.Ok(new GuestSession(tokens.Issue(user.UserId, user.Name), user.UserId, user.Name));
    }
}
