namespace SignalRChat.Contracts;

/// <summary>A room's settings: when the assistant answers, what a message does while a reply runs, and the room's topic.</summary>
public sealed record RoomSettings(string Assistant, string OnBusy, string? Topic)
{
    /// <summary>The settings of a room nobody has changed: the assistant answers every message, later replies wait.</summary>
    public static RoomSettings Default { get; } = new(AssistantModes.Always, BusyModes.Queue, null);
}
