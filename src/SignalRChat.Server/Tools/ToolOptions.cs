namespace SignalRChat.Server.Tools;

/// <summary>Settings of section <c>Chat:Tools</c>.</summary>
public sealed class ToolOptions
{
    public const string Section = "Chat:Tools";

    /// <summary>The default of <see cref="RequireApproval"/>: the tool that changes the room for everyone.</summary>
    public static readonly IReadOnlyList<string> DefaultRequireApproval = [SetRoomTopicTool.ToolName];

    /// <summary>
    /// Tools that wait for a member's approval before they run; unset: <see cref="DefaultRequireApproval"/>. One empty
    /// entry (<c>Chat:Tools:RequireApproval:0=""</c>) requires none.
    /// </summary>
    public string[]? RequireApproval { get; set; }

    /// <summary>How long a tool call waits for a decision before it expires (treated as denied).</summary>
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The tool names that need approval, as configured.</summary>
    public IReadOnlySet<string> ApprovalRequired =>
        (RequireApproval ?? [.. DefaultRequireApproval]).Where(n => !string.IsNullOrWhiteSpace(n)).ToHashSet(StringComparer.Ordinal);
}
