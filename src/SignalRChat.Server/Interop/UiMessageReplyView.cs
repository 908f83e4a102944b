using System.Text.Json;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Interop;

/// <summary>
/// A room's reply as one AI SDK UI message: <c>start</c> (the room's assistant message id), a text
/// part for each stretch of text between tool calls, <c>tool-input-available</c> and
/// <c>tool-output-available</c> (or <c>tool-output-error</c>) per tool call, then <c>finish</c>,
/// <c>abort</c> for a stopped reply, or <c>error</c>; the stream closes with <c>data: [DONE]</c>.
/// </summary>
internal sealed class UiMessageReplyView(string roomId, string generationId) : IReplyView
{
    private static readonly JsonElement NoArguments = JsonSerializer.SerializeToElement(new Dictionary<string, object>());

    private readonly HashSet<string> _toolCalls = new(StringComparer.Ordinal);
    private bool _started;
    private string? _messageId;
    private string? _textId;
    private int _textParts;

    /// <summary>Starts the message with the text it had reached, for a stream that resumes from a snapshot instead of the reply's first event.</summary>
    public void StartFrom(long seq, ActiveGeneration active, SseWriter writer)
    {
        _messageId = active.MessageId;
        Start(seq, writer);
        Text(seq, active.Text, writer);
    }

    public bool Apply(RoomEvent roomEvent, SseWriter writer)
    {
        var seq = roomEvent.Seq;
        switch (roomEvent)
        {
            case StatusEvent status:
                _messageId ??= status.MessageId;
                if (status.MessageId is not null || status.IsFinal)
                {
                    Start(seq, writer);
                }

                if (!status.IsFinal)
                {
                    return false;
                }

                EndText(seq, writer);
                switch (status.State)
                {
                    case GenerationStates.Completed:
                        writer.Event<UiMessageChunk>(seq, new UiFinish("stop"));
                        break;
                    case GenerationStates.Cancelled:
                        writer.Event<UiMessageChunk>(seq, new UiAbort(StopReason(status)));
                        break;
                    default:
                        writer.Event<UiMessageChunk>(seq, new UiError(status.Error ?? "the reply failed"));
                        writer.Event<UiMessageChunk>(seq, new UiFinish("error"));
                        break;
                }

                return true;
            case TokenEvent token:
                Start(seq, writer);
                Text(seq, token.Text, writer);
                return false;
            case ToolProgressEvent { Phase: ToolPhases.Started } call when _toolCalls.Add(call.CallId):
                Start(seq, writer);
                EndText(seq, writer);
                writer.Event<UiMessageChunk>(seq, new UiToolInputAvailable(call.CallId, call.Tool, call.Arguments ?? NoArguments));
                return false;
            case ToolProgressEvent { Phase: ToolPhases.Completed } done when _toolCalls.Contains(done.CallId):
                writer.Event<UiMessageChunk>(seq, new UiToolOutputAvailable(done.CallId, done.Detail ?? string.Empty));
                return false;
            case ToolProgressEvent { Phase: ToolPhases.Failed } failed when _toolCalls.Contains(failed.CallId):
                writer.Event<UiMessageChunk>(seq, new UiToolOutputError(failed.CallId, failed.Detail ?? "the tool failed"));
                return false;
            default:
                return false;
        }
    }

    /// <summary>A message that started no reply: a stream that finishes with no assistant message.</summary>
    public static void NoReply(SseWriter writer)
    {
        writer.Event<UiMessageChunk>(null, new UiFinish("stop"));
        writer.Data(UiMessageChunk.Done);
    }

    public void Overflowed(SseWriter writer) =>
        writer.Event<UiMessageChunk>(null, new UiError("the reader fell too far behind; the reply goes on in the room"));

    public void Close(SseWriter writer) => writer.Data(UiMessageChunk.Done);

    /// <summary>Why it stopped, and by whom: <c>stopped by alice</c>, <c>interrupted by bob</c>, <c>shutdown</c>.</summary>
    private static string StopReason(StatusEvent status)
    {
        var reason = status.Reason ?? CancelReasons.Stopped;
        return status.CancelledBy is { } by ? $"{reason} by {by.Name}" : reason;
    }

    private void Start(long seq, SseWriter writer)
    {
        if (!_started)
        {
            _started = true;
            writer.Event<UiMessageChunk>(seq, new UiStart(_messageId, new UiReplyMetadata(roomId, generationId)));
        }
    }

    private void Text(long seq, string text, SseWriter writer)
    {
        if (text.Length == 0)
        {
            return;
        }

        if (_textId is null)
        {
            _textId = $"{_messageId ?? generationId}-text-{++_textParts}";
            writer.Event<UiMessageChunk>(seq, new UiTextStart(_textId));
        }

        writer.Event<UiMessageChunk>(seq, new UiTextDelta(_textId, text));
    }

    private void EndText(long seq, SseWriter writer)
    {
        if (_textId is not null)
        {
            writer.Event<UiMessageChunk>(seq, new UiTextEnd(_textId));
            _textId = null;
        }
    }
}
