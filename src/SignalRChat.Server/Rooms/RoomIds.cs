using System.Text.RegularExpressions;

namespace SignalRChat.Server.Rooms;

/// <summary>Room ids are the whole string <c>[A-Za-z0-9_-]{1,64}</c>.</summary>
internal static partial class RoomIds
{
    public const string Rule = "a room id is 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'";

    public static bool IsValid(string? roomId) => roomId is not null && Pattern().IsMatch(roomId);

    // \z, not $: in .NET "$" also matches before a final newline, which would let "lobby\n" through.
    [GeneratedRegex(@"\A[A-Za-z0-9_-]{1,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
