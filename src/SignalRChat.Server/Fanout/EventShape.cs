using Microsoft.AspNetCore.Http;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Fanout;

/// <summary>How a hub connection asked to receive room events, from its URL's query (extensions of the contract).</summary>
/// <param name="OmitFinalText"><c>finalText=omit</c>: a final status comes without the whole text.</param>
/// <param name="CompactTokens"><c>tokens=compact</c>: token deltas come as <c>t</c> and <c>tr</c> with positional arguments.</param>
internal readonly record struct EventShape(bool OmitFinalText, bool CompactTokens)
{
    public static EventShape Of(IQueryCollection query) => new(
        query[ChatProtocol.Query.FinalText].ToString() == ChatProtocol.Query.Omit,
        query[ChatProtocol.Query.Tokens].ToString() == ChatProtocol.Query.Compact);

    /// <summary>Null when the query's <c>tokens</c> is absent or known; otherwise why the connection is refused.</summary>
    public static string? Refusal(IQueryCollection query) =>
        query.TryGetValue(ChatProtocol.Query.Tokens, out var tokens) && tokens.ToString() != ChatProtocol.Query.Compact
            ? $"the hub URL's '{ChatProtocol.Query.Tokens}' must be '{ChatProtocol.Query.Compact}' (token deltas as 't' and 'tr', rooms numbered by 'rn'), or left out for the contract's 'token' events"
            : null;
}
