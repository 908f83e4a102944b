using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Storage;

/// <summary>
/// What of a room's stream goes into the record, and when: a user message before <c>SendMessage</c>
/// answers; an assistant message when it starts, its text so far every <c>Chat:Storage:CheckpointInterval</c>
/// (never per token), and its end; rooms, invitations and memberships as they change; how far each
/// room's seq got. Everything goes through <see cref="ChatRecordWriter"/>, in order.
/// </summary>
internal sealed class ChatRecorder(ChatRecordWriter writer, UserEvents userEvents, IOptions<StorageOptions> options, TimeProvider time) : BackgroundService
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Reply> _replies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _messageOfGeneration = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _seqs = new(StringComparer.Ordinal);

    /// <summary>Refuses a message at once while the database is down, before it reaches the room.</summary>
    public void ThrowIfDown() => writer.ThrowIfDown();

    /// <summary>Every event this node appended to a room.</summary>
    public void Appended(RoomEvent appended)
    {
        lock (_lock)
        {
            _seqs[appended.RoomId] = Math.Max(appended.Seq, _seqs.GetValueOrDefault(appended.RoomId));
            switch (appended)
            {
                case MessageEvent { Message.Role: MessageRoles.Assistant } started:
                    var reply = new Reply(StoredMessage.From(started.RoomId, started.Message));
                    _replies[started.Message.MessageId] = reply;
                    // Written inside the lock, so that no checkpoint of it can be queued before it.
                    _ = writer.Write(new MessageSaved(reply.Message));
                    break;
                case StatusEvent { MessageId: { } messageId, IsFinal: false } status when _replies.ContainsKey(messageId):
                    _messageOfGeneration[status.GenerationId] = messageId;
                    break;
                case TokenEvent token when _messageOfGeneration.TryGetValue(token.GenerationId, out var messageId) && _replies.TryGetValue(messageId, out var streaming):
                    streaming.Text.Append(token.Text);
                    break;
            }
        }
    }

    /// <summary>Stores a user's message (with its seq) and waits until it is stored; then tells the room's members.</summary>
    public async Task UserMessageAsync(string roomId, ChatMessage message, CancellationToken cancellationToken)
    {
        var stored = StoredMessage.From(roomId, message);
        await writer.WriteAndWaitAsync(new MessageSaved(stored), cancellationToken);
        userEvents.RoomActivity(stored);
    }

    /// <summary>A reply's final status, decided once: its state, whole text, usage and who stopped it.</summary>
    public void ReplyEnded(StatusEvent final)
    {
        StoredMessage? ended = null;
        lock (_lock)
        {
            var messageId = final.MessageId ?? _messageOfGeneration.GetValueOrDefault(final.GenerationId);
            _messageOfGeneration.Remove(final.GenerationId);
            if (messageId is not null && _replies.Remove(messageId, out var reply))
            {
                ended = reply.Message with
                {
                    Text = final.Text ?? reply.Text.ToString(),
                    State = MessageStates.AfterGeneration(final.State),
                    Usage = final.Usage,
                    CancelledBy = final.CancelledBy,
                    Error = final.Error,
                };
                _ = writer.Write(new MessageSaved(ended));
            }
        }

        if (ended is not null)
        {
            userEvents.RoomActivity(ended);
        }
    }

    public Task SettingsChangedAsync(string roomId, RoomSettings settings, CancellationToken cancellationToken) =>
        writer.WriteAndWaitAsync(new RoomSettingsSaved(roomId, JsonSerializer.Serialize(settings, ChatJson.Options)), cancellationToken);

    /// <summary>
    /// A reply another node was running when it died, failed in the room by this node's lease sweep: the record gets the
    /// final state and the text the room has of it (the dead node cannot write them).
    /// </summary>
    public void ReplyFailedElsewhere(string roomId, ChatMessage message, string error)
    {
        var ended = StoredMessage.From(roomId, message) with { State = MessageStates.Failed, Error = error };
        _ = writer.Write(new MessageSaved(ended));
        userEvents.RoomActivity(ended);
    }

    public Task RoomCreatedAsync(string roomId, string visibility, string? creatorId, CancellationToken cancellationToken) =>
        writer.WriteAndWaitAsync(new RoomSaved(roomId, visibility, creatorId, time.GetUtcNow()), cancellationToken);

    /// <summary>Completes once everything recorded before it is written (or throws when the record does not take it within the token).</summary>
    public Task FlushAsync(CancellationToken cancellationToken) => writer.FlushAsync(cancellationToken);

    /// <summary>A room that came into being by being joined (public, no creator).</summary>
    public void RoomSeen(string roomId) => _ = writer.Write(new RoomSaved(roomId, RoomVisibility.Public, null, time.GetUtcNow()));

    public void Joined(string roomId, RoomMember member) => _ = writer.Write(new MembershipSaved(roomId, member.UserId, member.Name, false, time.GetUtcNow()));

    public void Left(string roomId, string userId) => _ = writer.Write(new MembershipSaved(roomId, userId, userId, true, time.GetUtcNow()));

    public Task InvitedAsync(string roomId, string userId, string? invitedBy, CancellationToken cancellationToken) =>
        writer.WriteAndWaitAsync(new InvitationSaved(roomId, userId, invitedBy, time.GetUtcNow()), cancellationToken);

    public Task MarkReadAsync(string roomId, string userId, long seq, CancellationToken cancellationToken) =>
        writer.Write(new ReadMarked(roomId, userId, seq)).WaitAsync(options.Value.WriteTimeout, time, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CheckpointInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Checkpoint();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // The seqs reached since the last tick, so that a room rebuilt after this stop continues above them.
        Checkpoint();
    }

    /// <summary>The text so far of every reply that grew since the last checkpoint, and every room's seq.</summary>
    private void Checkpoint()
    {
        lock (_lock)
        {
            foreach (var reply in _replies.Values)
            {
                if (reply.Text.Length != reply.CheckpointedLength)
                {
                    reply.CheckpointedLength = reply.Text.Length;
                    _ = writer.Write(new MessageSaved(reply.Message with { Text = reply.Text.ToString() }));
                }
            }

            foreach (var (roomId, seq) in _seqs)
            {
                _ = writer.Write(new SeqReached(roomId, seq));
            }

            _seqs.Clear();
        }
    }

    private sealed class Reply(StoredMessage message)
    {
        public StoredMessage Message { get; } = message;

        public StringBuilder Text { get; } = new(message.Text);

        public int CheckpointedLength { get; set; } = message.Text.Length;
    }
}
