using Microsoft.Extensions.AI;

namespace SignalRChat.Server.Model;

/// <summary>
/// Caps the tool calls of one model round (<c>Chat:Model:MaxToolCallsPerRound</c>): a model that asks for
/// hundreds of calls at once would otherwise run them all, each of which may call the model again.
/// </summary>
internal static class ToolCallLimit
{
    public static Func<FunctionInvocationContext, CancellationToken, ValueTask<object?>> For(int maxPerRound) => (context, cancellationToken) =>
        context.FunctionCount > maxPerRound
            ? ValueTask.FromResult<object?>(
                $"refused: {context.FunctionCount} tool calls in one round, at most {maxPerRound} are run (Chat:Model:MaxToolCallsPerRound); ask for fewer")
            : context.Function.InvokeAsync(context.Arguments, cancellationToken);
}
