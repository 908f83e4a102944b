namespace SignalRChat.Client;

/// <summary>What a <see cref="RoomTracker"/> asks its client to do next.</summary>
internal enum TrackerActionKind
{
    None,
    Resume,
    Rejoin,
}

/// <summary>An action a <see cref="RoomTracker"/> asks for; <see cref="AfterSeq"/> is where a Resume starts.</summary>
internal readonly record struct TrackerAction(TrackerActionKind Kind, long AfterSeq);
