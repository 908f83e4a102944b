using System.Text;
using System.Threading.Channels;
using SignalRChat.Contracts;

namespace SignalRChat.Client;

/// <summary>A reply being generated: its token deltas as they arrive, its final status, and Stop.</summary>
public sealed class ChatReply
{
    private readonly ReplyState _state;
    private readonly ChatClient _client;

    internal ChatReply(ChatClient client, string generationId, string messageId, ReplyState state)
    {
        _client = client;
        _state = state;
        MessageId = messageId;
        GenerationId = generationId;
    }

    /// <summary>The id of the user message that asked for this reply.</summary>
    public string MessageId { get; }

    public string GenerationId { get; }

    /// <summary>
    /// The final status (completed, cancelled or failed); its <c>Text</c> is the whole reply (with
    /// <c>omitFinalText</c>, put back from what the client received; null only for a reply it took up
    /// mid-way by a bare <c>Resume</c>, without a snapshot).
    /// </summary>
    public Task<StatusEvent> Completion => _state.Completion.Task;

    /// <summary>The reply's text deltas in order, ending when the reply ends. Can be read once.</summary>
    public IAsyncEnumerable<string> Tokens => _state.Tokens.Reader.ReadAllAsync();

    /// <summary>Stops the reply for everyone in the room; true when this call stopped it.</summary>
    public Task<bool> StopAsync(CancellationToken cancellationToken = default) => _client.CancelGenerationAsync(GenerationId, cancellationToken);
}

/// <summary>What the client has seen of one generation: its deltas, the text they make, its final status.</summary>
internal sealed class ReplyState
{
    private readonly Lock _lock = new();
    private StringBuilder _text = new();

    public Channel<string> Tokens { get; } = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public TaskCompletionSource<StatusEvent> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // True once the text holds the whole reply so far: seen from its first status, or taken from a snapshot.
    private bool _whole;

    /// <summary>The room of the generation, once an event or the ask named it.</summary>
    public string? RoomId { get; set; }

    /// <summary>The assistant message of the generation, once a status or a snapshot named it.</summary>
    public string? MessageId { get; set; }

    /// <summary>
    /// The room was joined afresh (a reset, or a restarted server) and this reply is not running in it: it ends
    /// as the snapshot keeps its message or, when the snapshot has no such message, as failed, so no reader waits forever.
    /// </summary>
    public void EndFrom(RoomSnapshot snapshot, string generationId)
    {
        var message = MessageId is null ? null : snapshot.Messages.FirstOrDefault(m => m.MessageId == MessageId && m.State != MessageStates.Generating);
        var status = message is not null
            ? new StatusEvent(snapshot.RoomId, generationId, message.State, Text: message.Text) { Seq = snapshot.LastSeq, MessageId = message.MessageId }
            : new StatusEvent(snapshot.RoomId, generationId, GenerationStates.Failed,
                Error: "the server no longer has this reply (it restarted); the room was joined afresh") { Seq = snapshot.LastSeq, MessageId = MessageId };
        Tokens.Writer.TryComplete();
        Completion.TrySetResult(status);
    }

    /// <summary>Takes the reply's text as a snapshot has it; later deltas add to it.</summary>
    public void Restart(string text)
    {
        lock (_lock)
        {
            _text = new StringBuilder(text);
            _whole = true;
        }
    }

    /// <summary>Applies the event; returns it, with the reply's text put back when a final status came without it.</summary>
    public RoomEvent Apply(RoomEvent roomEvent)
    {
        switch (roomEvent)
        {
            case StatusEvent { State: GenerationStates.Queued or GenerationStates.Thinking }:
                lock (_lock)
                {
                    // Its first statuses come before any delta: from here on the text is whole.
                    _whole |= _text.Length == 0;
                }

                break;
            case TokenEvent token:
                lock (_lock)
                {
                    _text.Append(token.Text);
                }

                Tokens.Writer.TryWrite(token.Text);
                break;
            case StatusEvent { IsFinal: true } status:
                if (status.Text is null)
                {
                    lock (_lock)
                    {
                        // Left null when this client came in after the reply began without a snapshot of it (a bare Resume).
                        status = _whole ? status with { Text = _text.ToString() } : status;
                    }

                    roomEvent = status;
                }

                Tokens.Writer.TryComplete();
                Completion.TrySetResult(status);
                break;
        }

        return roomEvent;
    }
}
