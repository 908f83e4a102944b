using SignalRChat.Contracts;

namespace SignalRChat.Server.Interop;

/// <summary>
/// A room's reply as one AG-UI run: <c>RUN_STARTED</c> when the message is in the room, the reply's
/// text as one text message (the room's assistant message id) that stays open across its tool
/// calls, each tool call whole (start, its complete arguments, end) and its result, and
/// <c>RUN_FINISHED</c> (outcome <c>success</c> or <c>cancelled</c>) or <c>RUN_ERROR</c>.
/// </summary>
internal sealed class AgUiReplyView(string roomId, string generationId) : IReplyView
{
    private readonly HashSet<string> _toolCalls = new(StringComparer.Ordinal);
    private bool _started;
    private string? _messageId;
    private bool _textOpen;

    public bool Apply(RoomEvent roomEvent, SseWriter writer)
    {
        var seq = roomEvent.Seq;
        Start(seq, writer);
        switch (roomEvent)
        {
            case StatusEvent status:
                _messageId ??= status.MessageId;
                if (!status.IsFinal)
                {
                    return false;
                }

                EndText(seq, writer);
                writer.Event<AgUiEvent>(seq, status.State switch
                {
                    GenerationStates.Completed => new AgUiRunFinished(roomId, generationId, AgUiOutcome.Success, Usage(status.Usage)),
                    GenerationStates.Cancelled => new AgUiRunFinished(roomId, generationId, AgUiOutcome.Cancelled, Usage(status.Usage),
                        new AgUiStopMetadata(status.Reason ?? CancelReasons.Stopped, status.CancelledBy)),
                    _ => new AgUiRunError(status.Error ?? "the reply failed", "failed"),
                });
                return true;
            case TokenEvent { Text.Length: > 0 } token:
                if (!_textOpen)
                {
                    _textOpen = true;
                    writer.Event<AgUiEvent>(seq, new AgUiTextMessageStart(MessageId, "assistant"));
                }

                writer.Event<AgUiEvent>(seq, new AgUiTextMessageContent(MessageId, token.Text));
                return false;
            case ToolProgressEvent { Phase: ToolPhases.Started } call when _toolCalls.Add(call.CallId):
                writer.Event<AgUiEvent>(seq, new AgUiToolCallStart(call.CallId, call.Tool, MessageId));
                if (call.Arguments is { } arguments)
                {
                    writer.Event<AgUiEvent>(seq, new AgUiToolCallArgs(call.CallId, arguments.GetRawText()));
                }

                writer.Event<AgUiEvent>(seq, new AgUiToolCallEnd(call.CallId));
                return false;
            case ToolProgressEvent { Phase: ToolPhases.Completed or ToolPhases.Failed } done when _toolCalls.Contains(done.CallId):
                var content = done.Phase == ToolPhases.Completed ? done.Detail ?? string.Empty : "error: " + (done.Detail ?? "the tool failed");
                writer.Event<AgUiEvent>(seq, new AgUiToolCallResult(ResultMessageId(done.CallId), done.CallId, content, "tool"));
                return false;
            default:
                return false;
        }
    }

    /// <summary>A message that started no reply: a run that starts and finishes at once, named after the message.</summary>
    public static void NoReply(string roomId, string messageId, SseWriter writer)
    {
        writer.Event<AgUiEvent>(null, new AgUiRunStarted(roomId, messageId));
        writer.Event<AgUiEvent>(null, new AgUiRunFinished(roomId, messageId, AgUiOutcome.Success, null));
    }

    public void Overflowed(SseWriter writer)
    {
        // RUN_ERROR may also be a run's first event, so nothing has to come before it.
        writer.Event<AgUiEvent>(null, new AgUiRunError("the reader fell too far behind; the reply goes on in the room", "overflow"));
    }

    public void Close(SseWriter writer)
    {
    }

    /// <summary>The id of the tool message a call's result makes: one per call, so a client can key it.</summary>
    public static string ResultMessageId(string callId) => "result-" + callId;

    // The assistant message is known from the reply's first status; a reply always has one before text or tools.
    private string MessageId => _messageId ?? "m-" + generationId;

    private void Start(long seq, SseWriter writer)
    {
        if (!_started)
        {
            _started = true;
            writer.Event<AgUiEvent>(seq, new AgUiRunStarted(roomId, generationId));
        }
    }

    private void EndText(long seq, SseWriter writer)
    {
        if (_textOpen)
        {
            _textOpen = false;
            writer.Event<AgUiEvent>(seq, new AgUiTextMessageEnd(MessageId));
        }
    }

    private static AgUiTokenUsage[]? Usage(UsageInfo? usage) =>
        usage is null ? null : [new AgUiTokenUsage(usage.InputTokens, usage.OutputTokens, usage.InputTokens + usage.OutputTokens)];
}
