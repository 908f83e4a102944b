namespace SignalRChat.Server.Storage;

/// <summary>Messages oldest first, and whether older ones exist.</summary>
internal sealed record MessagePage(IReadOnlyList<StoredMessage> Messages, bool HasMore);
