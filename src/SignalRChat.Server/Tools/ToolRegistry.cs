using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Tools;

/// <summary>
/// The tools offered to the model on every generation. Those listed in <c>Chat:Tools:RequireApproval</c> are
/// <see cref="ApprovalRequiredAIFunction"/>s: the function-invoking layer hands their calls back for a decision instead of running them.
/// </summary>
internal sealed class ToolRegistry(IEnumerable<ChatTool> tools, IOptions<ToolOptions> options)
{
    public IReadOnlyList<AITool> Functions { get; } = tools
        .Select(t => options.Value.ApprovalRequired.Contains(t.Name) ? new ApprovalRequiredAIFunction(new ToolFunction(t)) : (AITool)new ToolFunction(t))
        .ToList();
}
