using System.Text.RegularExpressions;

namespace SignalRChat.Server.Security;

/// <summary>
/// Removes credentials from text bound for logs: <c>access_token</c> query values, bearer tokens,
/// anything shaped like a JWT, and the configured secrets themselves (signing key, API keys).
/// </summary>
internal sealed partial class Redactor
{
    public const string Mask = "[redacted]";

    // Secrets shorter than this are too likely to occur by chance in ordinary text.
    private const int MinimumSecretLength = 8;

    private static readonly string[] SecretKeys =
    [
        "Chat:Auth:SigningKey",
        "Chat:OpenAI:ApiKey",
        "Chat:AzureOpenAI:ApiKey",
        "ConnectionStrings:Redis",
    ];

    private readonly string[] _secrets;

    public Redactor(IEnumerable<string?> secrets) =>
        _secrets = secrets.Where(s => s is { Length: >= MinimumSecretLength }).Select(s => s!).Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length).ToArray();

    public static Redactor FromConfiguration(IConfiguration configuration) =>
        new(SecretKeys.Select(key => configuration[key]).Concat(RedisPasswords(configuration["ConnectionStrings:Redis"])));

    public string Redact(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Mask, StringComparison.Ordinal);
            }
        }

        if (text.Contains("token", StringComparison.OrdinalIgnoreCase))
        {
            text = QueryToken().Replace(text, "$1" + Mask);
        }

        if (text.Contains("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            text = BearerToken().Replace(text, "$1" + Mask);
        }

        if (text.Contains("eyJ", StringComparison.Ordinal))
        {
            text = Jwt().Replace(text, Mask);
        }

        return text;
    }

    public object? Redact(object? value) => value is string text ? Redact(text) : value;

    private static IEnumerable<string?> RedisPasswords(string? connectionString) =>
        connectionString?.Split(',').Select(part => part.Trim())
            .Where(part => part.StartsWith("password=", StringComparison.OrdinalIgnoreCase))
            .Select(part => part["password=".Length..]) ?? [];

    [GeneratedRegex(@"((?:access_token|id_token|refresh_token)=)[^&\s""']+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex QueryToken();

    [GeneratedRegex(@"(Bearer\s+)[A-Za-z0-9\-_.~+/=]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex BearerToken();

    [GeneratedRegex(@"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();
}
