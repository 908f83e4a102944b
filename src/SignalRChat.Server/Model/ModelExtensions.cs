using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using SignalRChat.Server.Tools;

namespace SignalRChat.Server.Model;

internal static class ModelExtensions
{
    /// <summary>The model pipeline: the configured provider at the bottom, tool calling above it.</summary>
    public static IHostApplicationBuilder AddChatModel(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section)
            .Validate(o => o.Provider is ModelProviders.Offline or ModelProviders.OpenAI or ModelProviders.AzureOpenAI,
                $"Chat:Model:Provider must be one of {ModelProviders.Offline}, {ModelProviders.AzureOpenAI}, {ModelProviders.OpenAI}")
            .Validate(o => o.MaxToolRounds is >= 1 and <= 32, "Chat:Model:MaxToolRounds must be from 1 to 32")
            .ValidateOnStart();
        services.AddOptions<OfflineModelOptions>().BindConfiguration(OfflineModelOptions.Section)
            .Validate(o => o.TokenDelayMs is >= 0 and <= 60_000, "Chat:Offline:TokenDelayMs must be from 0 to 60000")
            .Validate(o => o.ReplyTokens is >= 1 and <= 100_000, "Chat:Offline:ReplyTokens must be from 1 to 100000")
            .ValidateOnStart();

        services.AddSingleton<ChatTool, CalculatorTool>();
        services.AddSingleton<ChatTool, ClockTool>();
        services.AddSingleton<ToolRegistry>();
        services.AddSingleton<OfflineChatClient>();

        services.AddChatClient(sp => sp.GetRequiredService<IOptions<ModelOptions>>().Value.Provider switch
            {
                _ => (IChatClient)sp.GetRequiredService<OfflineChatClient>(),
            })
            .Use((inner, sp) => new FunctionInvokingChatClient(inner, sp.GetService<ILoggerFactory>(), sp)
            {
                MaximumIterationsPerRequest = sp.GetRequiredService<IOptions<ModelOptions>>().Value.MaxToolRounds,

                // Input errors come back from ToolFunction as results; anything thrown is a real failure and ends the reply.
                IncludeDetailedErrors = false,
                MaximumConsecutiveErrorsPerRequest = 0,
            });
        return builder;
    }
}
