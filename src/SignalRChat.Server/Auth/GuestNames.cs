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
            if (rune == Rune.ReplacementChar || !IsPrintable(Rune.GetUnicodeCategory(rune)))
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

        error = string.Empty;
        return true;
    }

    // Format covers bidi overrides and isolates (U+202A..U+202E, U+2066..U+2069) and zero-width characters.
    private static bool IsPrintable(UnicodeCategory category) => category is not (UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
        or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse);
}
