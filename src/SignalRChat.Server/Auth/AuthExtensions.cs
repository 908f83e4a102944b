using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace SignalRChat.Server.Auth;

internal static class AuthExtensions
{
    /// <summary>Picks <see cref="LocalScheme"/> or <see cref="ExternalScheme"/> by the token's issuer.</summary>
    public const string ChatScheme = "Chat";

    /// <summary>This service's own HS256 tokens (guest sign-in, refresh).</summary>
    public const string LocalScheme = JwtBearerDefaults.AuthenticationScheme;

    /// <summary>Tokens of <c>Chat:Auth:Authority</c>, when one is configured.</summary>
    public const string ExternalScheme = "External";

    private static readonly JsonWebTokenHandler Handler = new();

    public static IHostApplicationBuilder AddChatAuth(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section)
            .Validate(o => o.TokenLifetime > TimeSpan.Zero, "Chat:Auth:TokenLifetime must be positive")
            .Validate(o => o.MaxSessionAge > TimeSpan.Zero, "Chat:Auth:MaxSessionAge must be positive, e.g. 7.00:00:00")
            .Validate(o => o.TicketLifetime >= TimeSpan.FromSeconds(1) && o.TicketLifetime <= TimeSpan.FromMinutes(10),
                "Chat:Auth:TicketLifetime must be from 00:00:01 to 00:10:00")
            .Validate(o => o.RefreshesPerHour >= 1, "Chat:Auth:RefreshesPerHour must be at least 1")
            .Validate(o => o.TicketsPerMinute >= 1, "Chat:Auth:TicketsPerMinute must be at least 1")
            .Validate(o => o.ClockSkew >= TimeSpan.Zero && o.ClockSkew <= TimeSpan.FromMinutes(5), "Chat:Auth:ClockSkew must be between 0 and 5 minutes")
            .Validate(o => string.IsNullOrEmpty(o.Authority) || Uri.TryCreate(o.Authority, UriKind.Absolute, out _),
                "Chat:Auth:Authority must be an absolute URL, e.g. https://login.example.com/realms/chat")
            .ValidateOnStart();
        services.AddSingleton<SigningKeyProvider>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<ITicketLedger, InMemoryTicketLedger>();
        services.AddSingleton<TicketService>();
        services.AddSingleton<IUserIdProvider, SubjectUserIdProvider>();

        var authority = builder.Configuration[$"{AuthOptions.Section}:{nameof(AuthOptions.Authority)}"];
        // Without an external authority there is one scheme to pick, so none is picked per request
        // (a hub connection keeps every handler its request created for as long as it is open).
        var authentication = services.AddAuthentication(string.IsNullOrEmpty(authority) ? LocalScheme : ChatScheme)
            .AddPolicyScheme(ChatScheme, "this service's tokens or the configured authority's", policy => policy.ForwardDefaultSelector = SelectScheme)
            .AddJwtBearer(LocalScheme);
        services.AddOptions<JwtBearerOptions>(LocalScheme)
            .Configure<TokenService>((jwt, tokens) =>
            {
                jwt.MapInboundClaims = false;

                // The token is read again by nothing; a saved copy would stay with every open hub connection.
                jwt.SaveToken = false;
                jwt.TokenValidationParameters = tokens.ValidationParameters();
                jwt.Events = new JwtBearerEvents { OnMessageReceived = ReadTokenOrTicket, OnTokenValidated = KeepOnlyUserClaims, OnChallenge = ExplainRefusedTicket };
            });

        if (!string.IsNullOrEmpty(authority))
        {
            authentication.AddJwtBearer(ExternalScheme);
            services.AddOptions<JwtBearerOptions>(ExternalScheme)
                .Configure<IOptions<AuthOptions>>((jwt, options) =>
                {
                    var settings = options.Value;
                    jwt.Authority = settings.Authority;
                    jwt.Audience = settings.Audience;
                    jwt.RequireHttpsMetadata = settings.RequireHttpsMetadata;
                    jwt.MapInboundClaims = false;
                    jwt.SaveToken = false;
                    jwt.TokenValidationParameters.ValidateIssuer = true;
                    jwt.TokenValidationParameters.ValidateAudience = true;
                    jwt.TokenValidationParameters.ValidateLifetime = true;
                    jwt.TokenValidationParameters.RequireExpirationTime = true;
                    jwt.TokenValidationParameters.RequireSignedTokens = true;
                    jwt.TokenValidationParameters.ClockSkew = settings.ClockSkew;
                    jwt.TokenValidationParameters.NameClaimType = TokenService.NameClaim;
                    jwt.Events = new JwtBearerEvents { OnMessageReceived = ReadToken, OnTokenValidated = ExternalUserIds.OnTokenValidated };
                });
        }

        services.AddAuthorization();
        services.AddGuestSignInLimit();
        services.AddRateLimiter(limiter => limiter
            .AddPolicy<string, TokenRefreshLimit>(TokenRefreshLimit.Policy)
            .AddPolicy<string, TicketIssueLimit>(TicketIssueLimit.Policy));

        // Resolve the key at start-up so a missing or short key stops the server at once.
        services.AddHostedService<SigningKeyCheck>();
        return builder;
    }

    private static Task ReadToken(MessageReceivedContext context)
    {
        context.Token = BearerTokens.Read(context.Request);
        return Task.CompletedTask;
    }

    /// <summary>
    /// As <see cref="ReadToken"/>; on the routes that take a token in the query (the hub, the event stream) a ticket is
    /// redeemed (used up) instead, whether it came in the query or, from a client that can set headers, in the header.
    /// </summary>
    private static async Task ReadTokenOrTicket(MessageReceivedContext context)
    {
        var token = BearerTokens.Read(context.Request);
        var tickets = context.HttpContext.RequestServices.GetRequiredService<TicketService>();
        if (token is null || !BearerTokens.MayCarryQueryToken(context.Request.Path) || !tickets.IsTicket(token))
        {
            context.Token = token;
            return;
        }

        var (principal, refusal) = await tickets.RedeemAsync(token, context.Scheme.Name, context.HttpContext.RequestAborted);
        if (principal is null)
        {
            context.HttpContext.Items[TicketService.RefusalItem] = refusal;
            context.Fail(refusal!);
            return;
        }

        context.Principal = principal;
        context.Success();
    }

    /// <summary>A refused ticket's 401 says why (used, expired, forged), so a client knows to fetch a new one.</summary>
    private static async Task ExplainRefusedTicket(JwtBearerChallengeContext context)
    {
        if (context.HttpContext.Items[TicketService.RefusalItem] is string refusal && !context.Response.HasStarted)
        {
            context.HandleResponse();
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            await context.Response.WriteAsJsonAsync(new { error = refusal });
        }
    }

    private static readonly string[] KeptClaims = [TokenService.UserIdClaim, TokenService.NameClaim, TokenService.IssuerClaim, TokenService.SessionStartClaim, TokenService.AddressClaim, "exp"];

    /// <summary>
    /// A hub connection keeps its user for as long as it is open; the validated identity would also keep
    /// the parsed token and all its claims. Only the user id, name, issuer and expiry are ever read, so only they stay
    /// (measured: several KB less per idle connection, see docs/benchmarks.md).
    /// </summary>
    private static Task KeepOnlyUserClaims(TokenValidatedContext context)
    {
        var principal = context.Principal;
        var id = principal?.FindFirst(TokenService.UserIdClaim);
        if (principal?.Identity is { AuthenticationType: { } type } && id is not null)
        {
            var identity = new ClaimsIdentity(type, TokenService.NameClaim, null);
            foreach (var kept in KeptClaims)
            {
                if (principal.FindFirst(kept) is { } claim)
                {
                    // The claim's type is one of the constants above, and a validated issuer one of a few: one string each
                    // for every connection instead of a copy per connection, read from that connection's token.
                    identity.AddClaim(new Claim(kept, kept == TokenService.IssuerClaim ? string.Intern(claim.Value) : claim.Value));
                }
            }

            context.Principal = new ClaimsPrincipal(identity);
        }

        return Task.CompletedTask;
    }

    // Only the issuer is read here, unvalidated, to choose the scheme; the chosen scheme validates everything.
    private static string SelectScheme(HttpContext context)
    {
        var settings = context.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value;
        if (string.IsNullOrEmpty(settings.Authority) || BearerTokens.Read(context.Request) is not { } token)
        {
            return LocalScheme;
        }

        if (!Handler.CanReadToken(token))
        {
            return LocalScheme;
        }

        try
        {
            return new JsonWebToken(token).Issuer == settings.Issuer ? LocalScheme : ExternalScheme;
        }
        catch (ArgumentException)
        {
            return LocalScheme;
        }
    }

    private sealed class SigningKeyCheck(SigningKeyProvider key) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => key.Key is null ? throw new InvalidOperationException("no signing key") : Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
