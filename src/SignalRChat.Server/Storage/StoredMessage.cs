using SignalRChat.Contracts;

namespace SignalRChat.Server.Storage;

/// <summary>A message as the record keeps it: the contract's fields, and the reply's usage, error, stopper and the reply it replaces.</summary>
internal sealed record StoredMessage(
    string MessageId,
    string RoomId,
    long Seq,
    string AuthorId,
    string AuthorName,
    string Role,
    string Text,
    string State,
    DateTimeOffset CreatedAt,
    UsageInfo? Usage = null,
    RoomMember? CancelledBy = null,
    string? Regenerates = null,
    string? Error = null)
{
    public ChatMessage ToMessage() => new(MessageId, Seq, AuthorId, AuthorName, Role, Text, State, CreatedAt)
    {
        Regenerates = Regenerates,
        CancelledBy = CancelledBy,
    };

    public MessagePreview ToPreview() => new(AuthorName, Text.Length <= IChatRecord.PreviewLength ? Text : Text[..IChatRecord.PreviewLength], CreatedAt);

    public static StoredMessage From(string roomId, ChatMessage message) =>
        new(message.MessageId, roomId, message.Seq, message.AuthorId, message.AuthorName, message.Role, message.Text, message.State, message.CreatedAt,
            CancelledBy: message.CancelledBy, Regenerates: message.Regenerates);
}
