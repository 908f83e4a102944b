using System.Globalization;
using System.Text;

namespace SignalRChat.Cli;

/// <summary>
/// Other people's text made safe for a terminal: control characters (C0 but newline and tab, DEL, C1, whose
/// 0x9B starts an escape sequence on its own) and bidi overrides are shown as visible symbols, so a message
/// cannot retitle, clear or rewrite the terminal, or reorder what follows it.
/// </summary>
internal static class TerminalText
{
    public static string Visible(string text)
    {
        if (!text.Any(NeedsEscape))
        {
            return text;
        }

        var visible = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (!NeedsEscape(c))
            {
                visible.Append(c);
            }
            else if (c < 0x20)
            {
                // The Unicode control pictures: ␛ for ESC, ␇ for BEL, ␍ for CR.
                visible.Append((char)(0x2400 + c));
            }
            else if (c == 0x7F)
            {
                visible.Append('\u2421');
            }
            else
            {
                visible.Append("<U+").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)).Append('>');
            }
        }

        return visible.ToString();
    }

    private static bool NeedsEscape(char c) =>
        (c < 0x20 && c is not ('\n' or '\t')) || c is >= '\u007f' and <= '\u009f' || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069';
}
