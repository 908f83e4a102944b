using Microsoft.Extensions.AI;
using SignalRChat.Server.Tools;

namespace SignalRChat.Server.Model;

/// <summary>
/// Caps the tool calls of one model round (<c>Chat:Model:MaxToolCallsPerRound</c>): a model that asks for
/// hundreds of calls at once would otherwise run them all, each of which may call the model again. A round
/// that asks for more runs none of them: each call is shown to the room as failed with the refusal, and the
/// model hears it as the call's result.
/// </summary>
internal static class ToolCallLimit
{
    public static Func<FunctionInvocationContext, CancellationToken, ValueTask<object?>> For(int maxPerRound) => (context, cancellationToken) =>
        context.FunctionCount > maxPerRound
            ? RefuseAsync(context, maxPerRound, cancellationToken)
            : context.Function.InvokeAsync(context.Arguments, cancellationToken);

    private static async ValueTask<object?> RefuseAsync(FunctionInvocationContext context, int maxPerRound, CancellationToken cancellationToken)
    {
        var refusal = $"{context.FunctionCount} tool calls in one round, at most {maxPerRound} are run (Chat:Model:MaxToolCallsPerRound)";
        if (ToolEventScope.Current is { } events)
        {
            var callId = context.CallContent.CallId;
            await events.StartedAsync(callId, context.Function.Name, cancellationToken);
            await events.FailedAsync(callId, context.Function.Name, "refused: " + refusal, cancellationToken);
        }

        return $"refused: {refusal}; ask for fewer";
    }
}
