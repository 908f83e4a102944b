namespace SignalRChat.Contracts;

/// <summary>The argument of <c>UpdateRoomSettings</c>: only the settings given change.</summary>
public sealed record RoomSettingsUpdate(string? Assistant = null, string? OnBusy = null, string? Topic = null);
