using System.Text.Json.Serialization;

namespace SignalRChat.Server.Interop;

// The AG-UI events this service sends, with the field names and required fields of the
// @ag-ui/core 1.0 schemas. Optional fields are left out when null (InteropJson).

/// <summary>An AG-UI event; <see cref="Type"/> is its discriminator.</summary>
internal abstract record AgUiEvent([property: JsonPropertyOrder(-1)] string Type)
{
    public const string RunStarted = "RUN_STARTED";
    public const string RunFinished = "RUN_FINISHED";
    public const string RunError = "RUN_ERROR";
    public const string TextMessageStart = "TEXT_MESSAGE_START";
    public const string TextMessageContent = "TEXT_MESSAGE_CONTENT";
    public const string TextMessageEnd = "TEXT_MESSAGE_END";
    public const string ToolCallStart = "TOOL_CALL_START";
    public const string ToolCallArgs = "TOOL_CALL_ARGS";
    public const string ToolCallEnd = "TOOL_CALL_END";
    public const string ToolCallResult = "TOOL_CALL_RESULT";
}

internal sealed record AgUiRunStarted(string ThreadId, string RunId) : AgUiEvent(RunStarted);

/// <summary><see cref="Outcome"/> is <c>{"type":"success"}</c> or, for a stopped reply, <c>{"type":"cancelled"}</c>.</summary>
internal sealed record AgUiRunFinished(string ThreadId, string RunId, AgUiOutcome Outcome, IReadOnlyList<AgUiTokenUsage>? Usage, AgUiStopMetadata? Metadata = null)
    : AgUiEvent(RunFinished);

/// <summary>The <c>metadata</c> of a cancelled run: why it stopped (<c>stopped</c>, <c>interrupted</c>, <c>shutdown</c>, <c>limit</c>) and who stopped it (none when the server did).</summary>
internal sealed record AgUiStopMetadata(string Reason, SignalRChat.Contracts.RoomMember? CancelledBy);

internal sealed record AgUiRunError(string Message, string? Code) : AgUiEvent(RunError);

internal sealed record AgUiTextMessageStart(string MessageId, string Role) : AgUiEvent(TextMessageStart);

internal sealed record AgUiTextMessageContent(string MessageId, string Delta) : AgUiEvent(TextMessageContent);

internal sealed record AgUiTextMessageEnd(string MessageId) : AgUiEvent(TextMessageEnd);

internal sealed record AgUiToolCallStart(string ToolCallId, string ToolCallName, string? ParentMessageId) : AgUiEvent(ToolCallStart);

internal sealed record AgUiToolCallArgs(string ToolCallId, string Delta) : AgUiEvent(ToolCallArgs);

internal sealed record AgUiToolCallEnd(string ToolCallId) : AgUiEvent(ToolCallEnd);

internal sealed record AgUiToolCallResult(string MessageId, string ToolCallId, string Content, string Role) : AgUiEvent(ToolCallResult);

/// <summary>Why a run ended (<c>RUN_FINISHED.outcome</c>).</summary>
internal sealed record AgUiOutcome(string Type)
{
    public static readonly AgUiOutcome Success = new("success");
    public static readonly AgUiOutcome Cancelled = new("cancelled");
}

/// <summary>One entry of <c>RUN_FINISHED.usage</c>: the model's token counts.</summary>
internal sealed record AgUiTokenUsage(long InputTokens, long OutputTokens, long TotalTokens);
