using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace SignalRChat.Server.Model;

/// <summary>
/// Keeps a message that the model server refuses (HTTP 400, caused by the input) from breaking every
/// later reply. Refused before anything streamed, the request is tried once more with only the system
/// prompt and the newest user message. If that works, the reply goes on without the room's history and
/// says so; if even that is refused, the newest message is the cause: it is marked, left out of later
/// prompts, and the reply fails saying why.
/// </summary>
internal sealed class RejectedInputChatClient(IChatClient inner, RejectedMessages rejected) : DelegatingChatClient(inner)
{
    public const string WithoutHistoryNote = "the model server refused the room's history (HTTP 400): this reply was written without it";
    public const string RefusedMessageError = "the model server refused this message (HTTP 400); it is left out of later replies";

    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetResponseAsync(Usable(messages), options, cancellationToken);

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var prompt = Usable(messages);
        var newest = prompt.LastOrDefault(m => m.Role == ChatRole.User);
        if (newest?.MessageId is null)
        {
            // Not a room's prompt (a tool asking the model): its refusal is the tool's failure, not a room message's fault.
            await foreach (var update in Unmarked(base.GetStreamingResponseAsync(prompt, options, cancellationToken), cancellationToken))
            {
                yield return update;
            }

            yield break;
        }

        var alone = prompt.Where(m => m.Role == ChatRole.System).Concat(newest is null ? [] : [newest]).ToList();
        var refused = false;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var updates = base.GetStreamingResponseAsync(attempt == 1 ? prompt : alone, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            var streamed = false;
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await updates.MoveNextAsync())
                        {
                            yield break;
                        }
                    }
                    catch (ModelServerException ex) when (ex.Status == 400 && !streamed)
                    {
                        refused = true;
                        break;
                    }

                    streamed = true;
                    yield return updates.Current;
                }
            }
            finally
            {
                await updates.DisposeAsync();
            }

            if (attempt == 1 && alone.Count < prompt.Count)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, [new ReplyNoteContent(WithoutHistoryNote)]);
                continue;
            }

            break;
        }

        if (refused && newest?.MessageId is { } id)
        {
            rejected.Add(id);
        }

        throw new ModelServerException(RefusedMessageError) { Status = 400 };
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Unmarked(IAsyncEnumerable<ChatResponseUpdate> source,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var updates = source.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (ModelServerException ex) when (ex.Status == 400)
                {
                    throw new ModelServerException(ex.Message);
                }

                yield return updates.Current;
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }
    }

    private List<ChatMessage> Usable(IEnumerable<ChatMessage> messages) =>
        messages.Where(m => m.MessageId is null || !rejected.Contains(m.MessageId)).ToList();
}
