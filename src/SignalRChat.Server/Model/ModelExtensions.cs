using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using SignalRChat.Server.Model.Providers;
using SignalRChat.Server.Telemetry;
using SignalRChat.Server.Tools;

namespace SignalRChat.Server.Model;

internal static class ModelExtensions
{
    /// <summary>The model pipeline: messages the server refused left out, then tool calling, then telemetry, then readable upstream errors, then retries, then the configured provider.</summary>
    public static IHostApplicationBuilder AddChatModel(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section)
            .Validate(o => o.Provider is ModelProviders.Offline or ModelProviders.OpenAI or ModelProviders.AzureOpenAI,
                $"Chat:Model:Provider must be one of {ModelProviders.Offline}, {ModelProviders.AzureOpenAI}, {ModelProviders.OpenAI}")
            .Validate(o => o.MaxToolRounds is >= 1 and <= 32, "Chat:Model:MaxToolRounds must be from 1 to 32")
            .Validate(o => o.MaxToolCallsPerRound is >= 1 and <= 128, "Chat:Model:MaxToolCallsPerRound must be from 1 to 128")
            .Validate(o => o.MaxOutputTokens is >= 1 and <= 1_000_000, "Chat:Model:MaxOutputTokens must be from 1 to 1000000")
            .Validate(o => o.MaxHistoryMessages is >= 1 and <= 10_000, "Chat:Model:MaxHistoryMessages must be from 1 to 10000")
            .Validate(o => o.MaxHistoryTokens is >= 100 and <= 10_000_000, "Chat:Model:MaxHistoryTokens must be from 100 to 10000000")
            .Validate(o => o.MaxRetries is >= 0 and <= 10, "Chat:Model:MaxRetries must be from 0 to 10")
            .Validate(o => o.RetryDelayMs is >= 0 and <= 60_000, "Chat:Model:RetryDelayMs must be from 0 to 60000")
            .Validate(o => !string.IsNullOrWhiteSpace(o.SystemPrompt), "Chat:Model:SystemPrompt must not be empty")
            .ValidateOnStart();
        services.AddOptions<OfflineModelOptions>().BindConfiguration(OfflineModelOptions.Section)
            .Validate(o => o.TokenDelayMs is >= 0 and <= 60_000, "Chat:Offline:TokenDelayMs must be from 0 to 60000")
            .Validate(o => o.ReplyTokens is >= 1 and <= 100_000, "Chat:Offline:ReplyTokens must be from 1 to 100000")
            .ValidateOnStart();
        services.AddOpenAIOptions();
        services.AddAzureOpenAIOptions();

        services.AddSingleton<ChatTool, CalculatorTool>();
        services.AddSingleton<ChatTool, ClockTool>();
        services.AddSingleton<ChatTool, RoomSummaryTool>();
        services.AddSingleton<ChatTool, SetRoomTopicTool>();
        services.AddOptions<ToolOptions>().BindConfiguration(ToolOptions.Section)
            .Validate<IEnumerable<ChatTool>>((o, tools) => o.ApprovalRequired.All(name => tools.Any(t => t.Name == name)),
                "Chat:Tools:RequireApproval must list only built-in tools: calculator, clock, room_summary, set_room_topic")
            .Validate(o => o.ApprovalTimeout > TimeSpan.Zero && o.ApprovalTimeout <= TimeSpan.FromDays(1),
                "Chat:Tools:ApprovalTimeout must be more than 0 and at most 1.00:00:00")
            .ValidateOnStart();
        services.AddSingleton<ToolRegistry>();
        services.AddSingleton<OfflineChatClient>();

        services.AddSingleton<RejectedMessages>();
        services.AddChatClient(CreateProvider)
            .Use((inner, sp) => new RejectedInputChatClient(inner, sp.GetRequiredService<RejectedMessages>()))
            .Use((inner, sp) => new FunctionInvokingChatClient(inner, sp.GetService<ILoggerFactory>(), sp)
            {
                MaximumIterationsPerRequest = sp.GetRequiredService<IOptions<ModelOptions>>().Value.MaxToolRounds,
                FunctionInvoker = ToolCallLimit.For(sp.GetRequiredService<IOptions<ModelOptions>>().Value.MaxToolCallsPerRound),

                // Input errors come back from ToolFunction as results; anything thrown is a real failure and ends the reply.
                IncludeDetailedErrors = false,
                MaximumConsecutiveErrorsPerRequest = 0,
            })

            // gen_ai spans ("chat" per model round, "execute_tool" per tool call, found by the layer above) and metrics,
            // without prompts or replies: those stay in the room.
            .UseOpenTelemetry(sourceName: ChatActivities.SourceName, configure: telemetry => telemetry.EnableSensitiveData = false)
            .Use((inner, sp) => new UpstreamErrorsChatClient(inner, DescribeServer(sp)))
            .Use((inner, sp) =>
            {
                var settings = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
                return new RetryingChatClient(inner, DescribeServer(sp), settings.MaxRetries, TimeSpan.FromMilliseconds(settings.RetryDelayMs),
                    sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger<RetryingChatClient>());
            });
        return builder;
    }

    private static IChatClient CreateProvider(IServiceProvider services) => services.GetRequiredService<IOptions<ModelOptions>>().Value.Provider switch
    {
        ModelProviders.OpenAI => OpenAIProvider.Create(services.GetRequiredService<IOptions<OpenAIOptions>>().Value),
        ModelProviders.AzureOpenAI => AzureOpenAIProvider.Create(services.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value),
        _ => services.GetRequiredService<OfflineChatClient>(),
    };

    private static string DescribeServer(IServiceProvider services) => services.GetRequiredService<IOptions<ModelOptions>>().Value.Provider switch
    {
        ModelProviders.OpenAI => ProviderEndpoints.Describe(services.GetRequiredService<IOptions<OpenAIOptions>>().Value.Endpoint),
        ModelProviders.AzureOpenAI => ProviderEndpoints.Describe(services.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value.Endpoint),
        _ => "(offline)",
    };
}
