using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace SignalRChat.Bench;

/// <summary>
/// The model of every scenario: a request text names how many tokens, their pace, and whether they
/// are plain words or clock stamps. A stamp token is the process clock (<see cref="Stopwatch"/>,
/// monotonic and shared by every process on the machine) at the moment of the yield, in hex, so a
/// client's receipt time minus the stamp is that token's latency. The first stamp token also
/// carries the moment the model was asked (<c>r…</c>), so the model's own time to first token is known.
/// </summary>
internal sealed partial class BenchModel : IChatClient
{
    private static readonly string[] Words =
        ["The ", "quick ", "reply ", "streams ", "to ", "every ", "member ", "of ", "the ", "room, ", "one ", "small ", "delta ", "at ", "a ", "time. "];

    public static string Request(int tokens, int delayMs, bool words = false) =>
        $"bench tokens={tokens} delay={delayMs}{(words ? " words" : string.Empty)}";

    /// <summary>The text of a reply of <paramref name="tokens"/> words, as streamed.</summary>
    public static IEnumerable<string> StreamWords(int tokens) => Enumerable.Range(0, tokens).Select(i => Words[i % Words.Length]);

    /// <summary>The same stream as the chat service's model gets, for the baseline.</summary>
    public static async IAsyncEnumerable<string> StreamAsync(string request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var requested = Stopwatch.GetTimestamp();
        var match = RequestPattern().Match(request);
        var tokens = match.Success ? int.Parse(match.Groups["tokens"].Value, CultureInfo.InvariantCulture) : 10;
        var delay = match.Success ? int.Parse(match.Groups["delay"].Value, CultureInfo.InvariantCulture) : 0;
        var words = match.Success && match.Groups["words"].Success;
        for (var i = 0; i < tokens; i++)
        {
            if (delay > 0)
            {
                await Task.Delay(delay, cancellationToken);
            }
            else
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            yield return words ? Words[i % Words.Length]
                : i == 0 ? $"r{requested:x} {Stopwatch.GetTimestamp():x} "
                : $"{Stopwatch.GetTimestamp():x} ";
        }
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? string.Empty;
        await foreach (var token in StreamAsync(request, cancellationToken))
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, token);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    [GeneratedRegex(@"bench tokens=(?<tokens>\d+) delay=(?<delay>\d+)(?<words> words)?")]
    private static partial Regex RequestPattern();
}
