using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Auth;

internal static class AuthExtensions
{
    public static IHostApplicationBuilder AddChatAuth(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section);
        services.AddSingleton<SigningKeyProvider>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<IUserIdProvider, SubjectUserIdProvider>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<TokenService>((jwt, tokens) =>
            {
                jwt.MapInboundClaims = false;
                jwt.TokenValidationParameters = tokens.ValidationParameters();
                jwt.Events = new JwtBearerEvents { OnMessageReceived = ReadQueryToken, OnTokenValidated = KeepOnlyUserClaims };
            });
        services.AddAuthorization();

        // Resolve the key at start-up so a missing or short key stops the server at once.
        services.AddHostedService<SigningKeyCheck>();
        return builder;
    }

    /// <summary>WebSockets and EventSource cannot set headers: accept <c>access_token</c> on those routes only.</summary>
    private static Task ReadQueryToken(MessageReceivedContext context)
    {
        var path = context.HttpContext.Request.Path;
        if (string.IsNullOrEmpty(context.Token)
            && (path.StartsWithSegments(ChatProtocol.HubPath) || IsEventStreamPath(path))
            && context.Request.Query.TryGetValue("access_token", out var token))
        {
            context.Token = token;
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// A hub connection keeps its user for as long as it is open; the validated identity would also keep
    /// the parsed token and all its claims. Only the user id and name are ever read, so only they stay
    /// (measured: several KB less per idle connection, see docs/benchmarks.md).
    /// </summary>
    private static Task KeepOnlyUserClaims(TokenValidatedContext context)
    {
        var principal = context.Principal;
        var id = principal?.FindFirst(TokenService.UserIdClaim);
        if (principal?.Identity is { AuthenticationType: { } type } && id is not null)
        {
            var name = principal.FindFirst(TokenService.NameClaim);
            var identity = new ClaimsIdentity(type, TokenService.NameClaim, null);
            identity.AddClaim(new Claim(TokenService.UserIdClaim, id.Value));
            if (name is not null)
            {
                identity.AddClaim(new Claim(TokenService.NameClaim, name.Value));
            }

            context.Principal = new ClaimsPrincipal(identity);
        }

        return Task.CompletedTask;
    }

    private static bool IsEventStreamPath(PathString path)
    {
        var value = path.Value;
        return value is not null && value.StartsWith("/api/rooms/", StringComparison.Ordinal) && value.EndsWith("/events", StringComparison.Ordinal);
    }

    private sealed class SigningKeyCheck(SigningKeyProvider key) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => key.Key is null ? throw new InvalidOperationException("no signing key") : Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
