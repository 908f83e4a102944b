using SignalRChat.Contracts;
using SignalRChat.Server.Auth;

namespace SignalRChat.Server.Generation;

/// <summary>
/// One generation per room at a time, the rest waiting in order with status <c>queued</c>.
/// In memory for one node; in Redis when several nodes share rooms.
/// </summary>
internal interface IGenerationQueue
{
    /// <summary>Appends the user's message and queues its reply; returns at once.</summary>
    Task<SendMessageResult> SubmitAsync(ChatUser user, string roomId, string text, CancellationToken cancellationToken);

    /// <summary>The room of a generation (running, waiting or recently finished), or null if unknown.</summary>
    Task<string?> FindRoomAsync(string generationId);

    /// <summary>Stops a waiting or running generation, wherever it runs; true when this call stopped it.</summary>
    Task<bool> CancelAsync(string generationId);

    /// <summary>Stops taking new generations, lets running ones finish within <paramref name="drainTime"/>, then stops the rest.</summary>
    Task DrainAsync(TimeSpan drainTime, CancellationToken cancellationToken);
}
