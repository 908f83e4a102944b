namespace SignalRChat.Server.Rooms;

/// <summary>What a message's text may contain.</summary>
internal static class MessageText
{
    /// <summary>
    /// The first C0 control character other than newline and tab, or null. Such characters drive
    /// terminals (escape sequences), confuse prompts and are rejected by some model servers.
    /// </summary>
    public static int? FirstControl(string text)
    {
        foreach (var c in text)
        {
            if (c < 0x20 && c is not ('\n' or '\t'))
            {
                return c;
            }
        }

        return null;
    }
}
