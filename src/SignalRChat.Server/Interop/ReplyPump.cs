using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Streaming;

namespace SignalRChat.Server.Interop;

/// <summary>
/// Reads one reply's events off a room watcher (the same <see cref="QueuedSubscriber"/> the NDJSON
/// and SSE streams use) and hands them to a protocol's view until the reply ends; a comment goes
/// out when nothing else did for <see cref="StreamOptions.KeepAlive"/>.
/// </summary>
internal static class ReplyPump
{
    /// <summary>The events of one reply: the message that asked for it (when known) and everything of its generation.</summary>
    public sealed record Reply(string GenerationId, string? UserMessageId);

    public static async Task RunAsync(QueuedSubscriber watcher, Reply reply, IReplyView view, SseWriter writer, StreamOptions settings, CancellationToken aborted)
    {
        await writer.FlushAsync(aborted);
        while (true)
        {
            var (result, next) = await watcher.ReadAsync(settings.KeepAlive, aborted);
            if (result == QueuedRead.Overflowed)
            {
                view.Overflowed(writer);
                break;
            }

            if (result == QueuedRead.Idle)
            {
                writer.Comment();
                await writer.FlushAsync(aborted);
                continue;
            }

            if (Belongs(next!.Event, reply) && view.Apply(next.Event, writer))
            {
                break;
            }

            if (!watcher.HasMore)
            {
                await writer.FlushAsync(aborted);
            }
        }

        view.Close(writer);
        await writer.FlushAsync(aborted);
    }

    private static bool Belongs(RoomEvent roomEvent, Reply reply) => roomEvent switch
    {
        MessageEvent m => reply.UserMessageId is not null && m.Message.MessageId == reply.UserMessageId,
        TokenEvent t => t.GenerationId == reply.GenerationId,
        ToolProgressEvent p => p.GenerationId == reply.GenerationId,
        StatusEvent s => s.GenerationId == reply.GenerationId,
        _ => false,
    };
}
