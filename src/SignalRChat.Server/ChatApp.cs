using SignalRChat.Server.Auth;
using SignalRChat.Server.Model;

namespace SignalRChat.Server;

/// <summary>Builds the chat service: used by <c>Program</c> and by the tests, which start it on a free port.</summary>
public static class ChatApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddChatAuth();
        builder.AddChatModel();
        builder.AddChatRooms();
        builder.Services.AddHealthChecks();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHealthChecks("/health");
        app.MapAuthApi();
        app.MapChat();
        return app;
    }
}
