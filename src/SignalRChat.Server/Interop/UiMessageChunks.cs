using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalRChat.Server.Interop;

// The AI SDK UI message stream (v1) chunks this service sends, with the field names and required
// fields of the ai package's uiMessageChunkSchema. Optional fields are left out when null (InteropJson).

/// <summary>A UI message stream chunk; <see cref="Type"/> is its discriminator.</summary>
internal abstract record UiMessageChunk([property: JsonPropertyOrder(-1)] string Type)
{
    /// <summary>The response header that names the protocol, and its value.</summary>
    public const string StreamHeader = "x-vercel-ai-ui-message-stream";
    public const string StreamVersion = "v1";

    /// <summary>The data line that closes the stream.</summary>
    public const string Done = "[DONE]";
}

/// <summary><see cref="MessageId"/>: the room's assistant message; the metadata names the room and the generation.</summary>
internal sealed record UiStart(string? MessageId, UiReplyMetadata MessageMetadata) : UiMessageChunk("start");

internal sealed record UiReplyMetadata(string RoomId, string GenerationId);

internal sealed record UiTextStart(string Id) : UiMessageChunk("text-start");

internal sealed record UiTextDelta(string Id, string Delta) : UiMessageChunk("text-delta");

internal sealed record UiTextEnd(string Id) : UiMessageChunk("text-end");

internal sealed record UiToolInputAvailable(string ToolCallId, string ToolName, JsonElement Input) : UiMessageChunk("tool-input-available");

internal sealed record UiToolOutputAvailable(string ToolCallId, string Output) : UiMessageChunk("tool-output-available");

internal sealed record UiToolOutputError(string ToolCallId, string ErrorText) : UiMessageChunk("tool-output-error");

/// <summary><see cref="FinishReason"/>: <c>stop</c>, or <c>error</c> after an <c>error</c> chunk.</summary>
internal sealed record UiFinish(string FinishReason) : UiMessageChunk("finish");

internal sealed record UiAbort(string? Reason) : UiMessageChunk("abort");

internal sealed record UiError(string ErrorText) : UiMessageChunk("error");
