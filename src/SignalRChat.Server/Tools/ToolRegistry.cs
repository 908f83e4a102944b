using Microsoft.Extensions.AI;

namespace SignalRChat.Server.Tools;

/// <summary>The tools offered to the model on every generation.</summary>
internal sealed class ToolRegistry(IEnumerable<ChatTool> tools)
{
    public IReadOnlyList<AITool> Functions { get; } = tools.Select(t => (AITool)new ToolFunction(t)).ToList();
}
