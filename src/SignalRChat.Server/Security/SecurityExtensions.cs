using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Security;

internal static class SecurityExtensions
{
    public const string CorsPolicy = "ChatCors";

    /// <summary>The CORS allow-list from <c>Chat:Cors:AllowedOrigins</c>.</summary>
    public static IHostApplicationBuilder AddChatSecurity(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ChatCorsOptions>().BindConfiguration(ChatCorsOptions.Section)
            .Validate(o => o.AllowedOrigins.All(ChatCorsOptions.IsOrigin),
                "Chat:Cors:AllowedOrigins takes origins such as https://chat.example.com (scheme, host and port; no path, no trailing slash, no *)")
            .ValidateOnStart();
        services.AddChatProxy();
        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptions<ChatCorsOptions>>((cors, chat) => cors.AddPolicy(CorsPolicy, policy =>
            {
                var origins = chat.Value.AllowedOrigins;
                if (origins.Length > 0)
                {
                    policy.WithOrigins(origins).AllowAnyHeader().WithMethods("GET", "POST").AllowCredentials();
                }
            }));
        return builder;
    }

    /// <summary>Runs every log line through the <see cref="Redactor"/>; call after all logger providers are added.</summary>
    public static IHostApplicationBuilder RedactLogs(this IHostApplicationBuilder builder)
    {
        RedactingLoggerProvider.WrapAll(builder.Services, Redactor.FromConfiguration(builder.Configuration));
        return builder;
    }

    /// <summary>Headers that keep the page from running injected script, being framed, sniffed, or leaking its URL.</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var headers = context.Response.Headers;
        var host = context.Request.Host.Value;
        var sockets = string.IsNullOrEmpty(host) ? string.Empty : $" ws://{host} wss://{host}";
        headers.ContentSecurityPolicy =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
            $"connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        return next(context);
    });
}
