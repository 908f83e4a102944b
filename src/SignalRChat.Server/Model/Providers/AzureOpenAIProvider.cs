using System.ClientModel;
using System.ClientModel.Primitives;
using Azure.AI.OpenAI;
using Azure.Identity;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Model.Providers;

/// <summary>Settings of section <c>Chat:AzureOpenAI</c>.</summary>
public sealed class AzureOpenAIOptions
{
    public const string Section = "Chat:AzureOpenAI";

    /// <summary>The resource endpoint, e.g. <c>https://my-resource.openai.azure.com/</c>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>The deployment name (Azure routes by deployment, not by model).</summary>
    public string? Deployment { get; set; }

    /// <summary>When left out, Entra ID is used through <c>DefaultAzureCredential</c>.</summary>
    public string? ApiKey { get; set; }
}

/// <summary>The <c>AzureOpenAI</c> provider: <see cref="AzureOpenAIClient"/>, adapted to <see cref="IChatClient"/>.</summary>
internal static class AzureOpenAIProvider
{
    public static IServiceCollection AddAzureOpenAIOptions(this IServiceCollection services)
    {
        services.AddOptions<AzureOpenAIOptions>().BindConfiguration(AzureOpenAIOptions.Section)
            .Validate<IOptions<ModelOptions>>(
                (o, model) => model.Value.Provider != ModelProviders.AzureOpenAI || ProviderEndpoints.IsHttpUrl(o.Endpoint),
                "Chat:AzureOpenAI:Endpoint must be set to the resource's URL (e.g. https://my-resource.openai.azure.com/) when Chat:Model:Provider is AzureOpenAI")
            .Validate<IOptions<ModelOptions>>(
                (o, model) => model.Value.Provider != ModelProviders.AzureOpenAI || !string.IsNullOrWhiteSpace(o.Deployment),
                "Chat:AzureOpenAI:Deployment must name the model deployment when Chat:Model:Provider is AzureOpenAI")
            .ValidateOnStart();
        return services;
    }

    public static IChatClient Create(AzureOpenAIOptions options)
    {
        var clientOptions = new AzureOpenAIClientOptions
        {
            // Retries happen in the pipeline's RetryingChatClient, which knows whether a token has reached the room.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        var endpoint = new Uri(options.Endpoint!);
        var client = string.IsNullOrWhiteSpace(options.ApiKey)
            ? new AzureOpenAIClient(endpoint, new DefaultAzureCredential(), clientOptions)
            : new AzureOpenAIClient(endpoint, new ApiKeyCredential(options.ApiKey), clientOptions);
        return client.GetChatClient(options.Deployment!).AsIChatClient();
    }
}
