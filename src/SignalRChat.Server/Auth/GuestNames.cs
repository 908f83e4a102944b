using System.Globalization;
using System.Text;

namespace SignalRChat.Server.Auth;

/// <summary>Rules for guest display names: 1 to 32 printable characters after trimming.</summary>
internal static class GuestNames
{
    public const int MaxLength = 32;

    public static bool TryNormalize(string? raw, out string name, out string error)
    {
        name = (raw ?? string.Empty).Trim();
        if (name.Length == 0)
        {
            error = "name is required: 1 to 32 printable characters";
            return false;
        }

        var count = 0;
        foreach (var rune in name.EnumerateRunes())
        {
            count++;
            if (rune == Rune.ReplacementChar || !IsPrintable(Rune.GetUnicodeCategory(rune)) || IsBlankLookalike(rune))
            {
                error = "name may contain printable characters only (no control, formatting or direction characters)";
                return false;
            }
        }

        if (count > MaxLength)
        {
            error = $"name is too long: at most {MaxLength} characters";
            return false;
        }

        if (!name.EnumerateRunes().Any(IsVisible))
        {
            error = "name must show at least one visible letter, digit or symbol (blank and combining characters alone are not a name)";
            return false;
        }

        if (Reserved.Contains(name))
        {
            error = $"the name '{name}' is reserved";
            return false;
        }

        error = string.Empty;
        return true;
    }

    // The assistant speaks as "Assistant"; "System" reads as the service itself.
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase) { "Assistant", "System" };

    // Letters and symbols that draw nothing: Hangul fillers, the blank Braille pattern, the Mongolian vowel separator.
    private static bool IsBlankLookalike(Rune rune) => rune.Value is 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x2800 or 0x180E;

    // Something a reader sees: not a space and not a mark, which only decorates the character before it.
    private static bool IsVisible(Rune rune) => Rune.GetUnicodeCategory(rune) is not (UnicodeCategory.SpaceSeparator
        or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark);

    // Format covers bidi overrides and isolates (U+202A..U+202E, U+2066..U+2069) and zero-width characters.
    private static bool IsPrintable(UnicodeCategory category) => category is not (UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
        or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse);
}
