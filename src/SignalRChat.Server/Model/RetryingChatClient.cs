using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace SignalRChat.Server.Model;

/// <summary>
/// Retries a model call that failed transiently (429, 5xx, a lost connection), with a doubling
/// pause, but only until the call has yielded its first text or tool call: after that its words may already be
/// in the room, and a second attempt would repeat them, so the failure goes up as it is.
/// </summary>
internal sealed partial class RetryingChatClient(IChatClient inner, string server, int maxRetries, TimeSpan firstDelay, TimeProvider time, ILogger logger)
    : DelegatingChatClient(inner)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await base.GetResponseAsync(messages, options, cancellationToken);
            }
            catch (Exception ex) when (ShouldRetry(ex, attempt, cancellationToken))
            {
                await PauseAsync(ex, attempt, cancellationToken);
            }
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var history = messages as IReadOnlyCollection<ChatMessage> ?? messages.ToList();
        for (var attempt = 0; ; attempt++)
        {
            var updates = base.GetStreamingResponseAsync(history, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            var yielded = false;
            Exception? failure = null;
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
                    catch (Exception ex) when (!yielded && ShouldRetry(ex, attempt, cancellationToken))
                    {
                        failure = ex;
                        break;
                    }

                    // Role-only chunks, empty text and usage show nothing in the room, so a retry after them repeats nothing.
                    yielded |= updates.Current.Contents.Any(c => c is TextContent { Text.Length: > 0 } or FunctionCallContent);
                    yield return updates.Current;
                }
            }
            finally
            {
                await updates.DisposeAsync();
            }

            await PauseAsync(failure!, attempt, cancellationToken);
        }
    }

    private bool ShouldRetry(Exception exception, int attempt, CancellationToken cancellationToken) =>
        attempt < maxRetries && !cancellationToken.IsCancellationRequested && ModelErrors.IsTransient(exception);

    private async Task PauseAsync(Exception failure, int attempt, CancellationToken cancellationToken)
    {
        var backoff = firstDelay * Math.Pow(2, attempt);
        var delay = ModelErrors.RetryAfter(failure) is { } asked && asked > backoff ? asked : backoff;
        if (delay > MaxDelay)
        {
            delay = MaxDelay;
        }

        Log.Retrying(logger, ModelErrors.DescribeUpstream(failure, server) ?? failure.GetType().Name, attempt + 1, maxRetries, (long)delay.TotalMilliseconds);
        await Task.Delay(delay, time, cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Model call failed ({Reason}); retry {Attempt} of {MaxRetries} in {DelayMs} ms")]
        public static partial void Retrying(ILogger logger, string reason, int attempt, int maxRetries, long delayMs);
    }
}
