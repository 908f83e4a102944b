namespace SignalRChat.Server.Rooms;

/// <summary>What kind of refusal a <see cref="ChatRequestException"/> is, for the HTTP status it maps to.</summary>
public enum ChatRefusal
{
    BadRequest = 400,
    Forbidden = 403,
    NotFound = 404,
    Conflict = 409,
    TooManyRequests = 429,
    Unavailable = 503,
}

/// <summary>A refused request with a message for the person who made it; hub calls get it as a HubException.</summary>
public sealed class ChatRequestException(ChatRefusal refusal, string message) : Exception(message)
{
    public ChatRefusal Refusal { get; } = refusal;
}

/// <summary>
/// A write of a reply that no longer runs was refused: another node gave it up (its lease ran out) and wrote its final
/// status. The node still running it stops it, as when a renewal finds the lease gone.
/// </summary>
internal sealed class GenerationGoneException(string roomId, Exception inner)
    : Exception($"the reply in room '{roomId}' no longer runs: another node gave it up", inner);
