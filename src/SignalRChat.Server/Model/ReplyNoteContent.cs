using Microsoft.Extensions.AI;

namespace SignalRChat.Server.Model;

/// <summary>Something the pipeline did to a reply that the room should be told, carried to the reply's final status.</summary>
internal sealed class ReplyNoteContent(string note) : AIContent
{
    public string Note { get; } = note;
}
