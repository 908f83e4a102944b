using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace SignalRChat.Server.Model;

/// <summary>
/// Replaces the provider's exceptions with <see cref="ModelServerException"/>s that say what went
/// wrong in one sentence. The originals are dropped on purpose: their messages carry the server's
/// error body, which may echo the key, and a stack trace helps no one in the room.
/// </summary>
internal sealed class UpstreamErrorsChatClient(IChatClient inner, string server) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }
        catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
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
                catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
                {
                    throw translated;
                }

                yield return updates.Current;
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }
    }

    private ModelServerException? Translate(Exception exception, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested || exception is ModelServerException
            ? null
            : ModelErrors.DescribeUpstream(exception, server) is { } sentence ? new ModelServerException(sentence) { Status = ModelErrors.StatusOf(exception) } : null;
}
