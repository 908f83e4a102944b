using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;

namespace SignalRChat.Server.Model.Providers;

/// <summary>Settings of section <c>Chat:OpenAI</c>: any server that speaks OpenAI chat completions.</summary>
public sealed class OpenAIOptions
{
    public const string Section = "Chat:OpenAI";

    /// <summary>The API base, e.g. <c>https://api.openai.com/v1</c> or <c>http://localhost:11434/v1</c>.</summary>
    public string? Endpoint { get; set; }

    public string? Model { get; set; }

    /// <summary>Optional: local servers (Ollama, llama.cpp, vLLM) usually need none.</summary>
    public string? ApiKey { get; set; }
}

/// <summary>The <c>OpenAI</c> provider: the OpenAI .NET library, adapted to <see cref="IChatClient"/>.</summary>
internal static class OpenAIProvider
{
    // The library insists on a credential; servers without keys ignore the header.
    private const string NoKey = "no-key";

    public static IServiceCollection AddOpenAIOptions(this IServiceCollection services)
    {
        services.AddOptions<OpenAIOptions>().BindConfiguration(OpenAIOptions.Section)
            .Validate<Microsoft.Extensions.Options.IOptions<ModelOptions>>(
                (o, model) => model.Value.Provider != ModelProviders.OpenAI || ProviderEndpoints.IsHttpUrl(o.Endpoint),
                "Chat:OpenAI:Endpoint must be set to the server's http:// or https:// API base (e.g. https://api.openai.com/v1 or http://localhost:11434/v1) when Chat:Model:Provider is OpenAI")
            .Validate<Microsoft.Extensions.Options.IOptions<ModelOptions>>(
                (o, model) => model.Value.Provider != ModelProviders.OpenAI || !string.IsNullOrWhiteSpace(o.Model),
                "Chat:OpenAI:Model must name the model (e.g. gpt-4o-mini or llama3.2) when Chat:Model:Provider is OpenAI")
            .ValidateOnStart();
        return services;
    }

    public static IChatClient Create(OpenAIOptions options)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = new Uri(options.Endpoint!),

            // Retries happen in the pipeline's RetryingChatClient, which knows whether a token has reached the room.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        var key = string.IsNullOrWhiteSpace(options.ApiKey) ? NoKey : options.ApiKey;
        return new OpenAIClient(new ApiKeyCredential(key), clientOptions).GetChatClient(options.Model!).AsIChatClient();
    }
}

internal static class ProviderEndpoints
{
    public static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>Scheme, host and port: enough to say which server failed, never a user:password@ part, a path or a query that might carry a secret.</summary>
    public static string Describe(string? endpoint) =>
        Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}" : "(no endpoint)";
}
