using SignalRChat.Contracts;

namespace SignalRChat.Server.Generation;

/// <summary>Who or what asked a reply to stop, and why (<see cref="CancelReasons"/>); carried to the final <c>cancelled</c> status.</summary>
internal sealed record StopRequest(RoomMember? By, string Reason, string? Error = null)
{
    /// <summary>The server shut down before the reply finished.</summary>
    public static StopRequest Shutdown { get; } = new(null, CancelReasons.Shutdown, GenerationErrors.ShutDown);

    /// <summary>Another node already gave the reply up as failed: this node stops writing it.</summary>
    public static StopRequest LeaseLost { get; } = new(null, CancelReasons.Shutdown, GenerationErrors.NodeStopped);

    /// <summary>A member pressed Stop.</summary>
    public static StopRequest ByMember(RoomMember member) => new(member, CancelReasons.Stopped);
}

/// <summary>Readable reasons a generation ended other than by its model.</summary>
internal static class GenerationErrors
{
    public const string ShutDown = "the server shut down before the reply finished";
    public const string NodeStopped = "the server handling this reply stopped";
}
