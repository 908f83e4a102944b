using System.Text.RegularExpressions;

namespace SignalRChat.Server.Rooms;

/// <summary>What a user id looks like: a guest's (<c>u-</c> and hex) or an external issuer's (<c>x{tag}:{sub}</c>).</summary>
internal static partial class UserIds
{
    public const string Rule = "a user id is a guest's (u- and 12 to 32 hex digits) or an identity provider user's (x, 8 hex digits, ':' and up to 200 visible characters)";

    public static bool IsValid(string? userId) => userId is not null && Pattern().IsMatch(userId);

    [GeneratedRegex(@"\A(u-[0-9a-f]{12,32}|x[0-9a-f]{8}:[\x21-\x7E]{1,200})\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
