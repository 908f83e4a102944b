namespace SignalRChat.Server.Interop;

/// <summary>Settings of section <c>Chat:Interop</c>: the AG-UI and AI SDK routes.</summary>
public sealed class InteropOptions
{
    public const string Section = "Chat:Interop";

    /// <summary>
    /// The largest request body read (bytes). Those clients send the whole conversation they hold
    /// with every message, so this is larger than one message but still bounded.
    /// </summary>
    public int MaxRequestBytes { get; set; } = 4 * 1024 * 1024;
}
