namespace SignalRChat.Server.Storage;

/// <summary>One change to the record. Writes are applied in the order they were made; each kind is idempotent, so a retried batch does no harm.</summary>
internal abstract record RecordWrite(string RoomId);

/// <summary>A room came into being; a room already recorded keeps its first visibility and creator.</summary>
internal sealed record RoomSaved(string RoomId, string Visibility, string? CreatorId, DateTimeOffset CreatedAt) : RecordWrite(RoomId);

/// <summary>A room's settings, as JSON.</summary>
internal sealed record RoomSettingsSaved(string RoomId, string Settings) : RecordWrite(RoomId);

/// <summary>The room's event stream reached <see cref="Seq"/> (never lowered), so a rebuilt room continues above it.</summary>
internal sealed record SeqReached(string RoomId, long Seq) : RecordWrite(RoomId);

internal sealed record InvitationSaved(string RoomId, string UserId, string? InvitedBy, DateTimeOffset At) : RecordWrite(RoomId);

/// <summary>A user joined (<see cref="Left"/> false) or left a room.</summary>
internal sealed record MembershipSaved(string RoomId, string UserId, string Name, bool Left, DateTimeOffset At) : RecordWrite(RoomId);

/// <summary>How far a member has read (never lowered).</summary>
internal sealed record ReadMarked(string RoomId, string UserId, long Seq) : RecordWrite(RoomId);

/// <summary>A message, new or changed (a reply's checkpoint or end): the whole row, keyed by message id.</summary>
internal sealed record MessageSaved(StoredMessage Message) : RecordWrite(Message.RoomId);
