namespace SignalRChat.Contracts;

/// <summary>A room's settings changed: the whole new settings, and who changed them (the assistant, for its own tool).</summary>
public sealed record RoomSettingsEvent(string RoomId, RoomSettings Settings, RoomMember ChangedBy) : RoomEvent(RoomId);
