namespace SignalRChat.Server.Security;

/// <summary>Settings of section <c>Chat:Cors</c>.</summary>
public sealed class ChatCorsOptions
{
    public const string Section = "Chat:Cors";

    /// <summary>Origins (scheme://host[:port]) whose pages may call the service from a browser; none by default.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    internal static bool IsOrigin(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https"
        && uri.AbsolutePath == "/" && !value.EndsWith('/') && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment) && string.IsNullOrEmpty(uri.UserInfo);
}
