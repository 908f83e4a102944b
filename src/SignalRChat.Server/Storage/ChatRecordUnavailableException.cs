namespace SignalRChat.Server.Storage;

/// <summary>The database could not be reached or migrated at start; the message names it and its setting.</summary>
internal sealed class ChatRecordUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
