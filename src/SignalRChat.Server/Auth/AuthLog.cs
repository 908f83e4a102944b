namespace SignalRChat.Server.Auth;

internal static partial class AuthLog
{
    [LoggerMessage(1, LogLevel.Warning, "Chat:Auth:SigningKey is not set: generated a random signing key for this Development run. Tokens will not survive a restart and other nodes will not accept them.")]
    public static partial void GeneratedSigningKey(ILogger logger);

    [LoggerMessage(2, LogLevel.Information, "Guest {UserId} signed in as {Name}")]
    public static partial void GuestSignedIn(ILogger logger, string userId, string name);
}
