namespace SignalRChat.Server.Model;

/// <summary>Settings of section <c>Chat:Model</c>.</summary>
public sealed class ModelOptions
{
    public const string Section = "Chat:Model";

    /// <summary><c>Offline</c> (default), <c>AzureOpenAI</c> or <c>OpenAI</c>.</summary>
    public string Provider { get; set; } = ModelProviders.Offline;

    /// <summary>Rounds of tool calls (model asks, tools answer) allowed in one reply.</summary>
    public int MaxToolRounds { get; set; } = 4;

    /// <summary>Tool calls the model may ask for in one round; a round asking for more gets each call refused.</summary>
    public int MaxToolCallsPerRound { get; set; } = 8;

    /// <summary>The longest reply in tokens: passed to the model and enforced while the reply streams.</summary>
    public int MaxOutputTokens { get; set; } = 4096;

    /// <summary>Most recent room messages considered for the model's history.</summary>
    public int MaxHistoryMessages { get; set; } = 40;

    /// <summary>Token budget of the history sent to the model (system prompt included), estimated as characters / 4.</summary>
    public int MaxHistoryTokens { get; set; } = 6000;

    /// <summary>Retries of a model call that failed transiently (429, 5xx, connection reset) before its first token.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Pause before the first retry, in milliseconds; doubled for each further one.</summary>
    public int RetryDelayMs { get; set; } = 500;

    public string SystemPrompt { get; set; } = "You are the assistant of a chat room shared by several people. Each user message starts with the name of its author. Answer briefly.";
}

/// <summary>Values of <c>Chat:Model:Provider</c>.</summary>
public static class ModelProviders
{
    public const string Offline = "Offline";
    public const string AzureOpenAI = "AzureOpenAI";
    public const string OpenAI = "OpenAI";
}

/// <summary>Settings of section <c>Chat:Offline</c>.</summary>
public sealed class OfflineModelOptions
{
    public const string Section = "Chat:Offline";

    /// <summary>Pause before each token, in milliseconds.</summary>
    public int TokenDelayMs { get; set; } = 25;

    /// <summary>Tokens in a plain reply.</summary>
    public int ReplyTokens { get; set; } = 60;
}
