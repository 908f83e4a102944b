namespace SignalRChat.Server.Interop;

/// <summary>The protocols other AI front ends speak (AG-UI, the AI SDK's UI message stream), as views of the rooms.</summary>
internal static class InteropExtensions
{
    public static IHostApplicationBuilder AddChatInterop(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<InteropOptions>().BindConfiguration(InteropOptions.Section)
            .Validate(o => o.MaxRequestBytes >= 1024, $"{InteropOptions.Section}:{nameof(InteropOptions.MaxRequestBytes)} must be at least 1024 (bytes)")
            .ValidateOnStart();
        return builder;
    }

    public static IEndpointRouteBuilder MapInterop(this IEndpointRouteBuilder app)
    {
        app.MapAgUi();
        app.MapAiSdkChat();
        return app;
    }
}
