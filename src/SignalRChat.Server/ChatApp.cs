using SignalRChat.Server.Auth;
using SignalRChat.Server.Health;
using SignalRChat.Server.Interop;
using SignalRChat.Server.Model;
using SignalRChat.Server.Redis;
using SignalRChat.Server.Security;
using SignalRChat.Server.Storage;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server;

/// <summary>Builds the chat service: used by <c>Program</c> and by the tests, which start it on a free port.</summary>
public static class ChatApp
{
    // Served at "/" only when wwwroot/index.html is missing (the page is built from client-js by the server's build).
    private const string PageNotBuilt = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>SignalRChat</title></head>
        <body><h1>SignalRChat</h1><p>The service is running (hub: <code>/hubs/chat</code>), but the chat page was not built:
        install Node.js 20 and run <code>dotnet build src/SignalRChat.Server</code>.</p></body></html>
        """;

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddChatAuth();
        builder.AddChatModel();
        builder.AddChatStorage();
        builder.AddChatRooms();
        builder.AddChatInterop();
        builder.AddChatRedis();
        builder.RecordRooms();
        builder.AddChatSecurity();
        builder.AddChatHealth();
        builder.AddChatTelemetry();
        configure?.Invoke(builder);
        builder.RedactLogs();

        var app = builder.Build();
        app.UseChatForwardedHeaders();
        app.UseSecurityHeaders();
        app.UseChatPage();
        app.UseRouting();
        app.UseCors(SecurityExtensions.CorsPolicy);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapChatHealth();
        app.MapAuthApi();
        app.MapChat();
        app.MapGet("/", () => Results.Content(PageNotBuilt, "text/html; charset=utf-8")).ExcludeFromDescription();
        return app;
    }

    // The page is built into wwwroot during the build, after static web assets were listed, so it is served from disk.
    private static void UseChatPage(this WebApplication app)
    {
        var webRoot = Path.Combine(app.Environment.ContentRootPath, "wwwroot");
        if (!Directory.Exists(webRoot))
        {
            return;
        }

        var files = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(webRoot);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
    }
}
