using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Storage;

/// <summary>
/// The room store as every part of the node sees it: the hot store (memory or Redis) underneath, with
/// each room rebuilt from the record the first time it is needed after a restart, and again whenever
/// the hot store finds it lost a recorded room (<see cref="IRoomStateLoss"/>: Redis came back empty),
/// each change of a room recorded (<see cref="ChatRecorder"/>), and snapshots saying whether older messages exist.
/// </summary>
internal sealed class RecordingRoomStore(IRoomStore hot, IChatRecord record, ChatRecorder recorder, IOptions<RoomOptions> options) : IRoomStore
{
    /// <summary>
    /// Seq of a rebuilt room starts this far above the last one recorded: events of the last moment
    /// before a crash (presence, deltas after the last checkpoint) were never recorded, and a client
    /// that saw them must get <c>reset</c> on resume rather than different events under the same seqs.
    /// </summary>
    public const long RestartSeqGap = 10_000;

    // Rooms looked up in the record (true: recorded). Forgetting one is safe (rebuilding is only done when the hot
    // store does not know the room), so the map is simply emptied when it grows past what a node holds at once.
    private const int MaxKnown = 50_000;
    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _known = new(StringComparer.Ordinal);

    private readonly SemaphoreSlim[] _inviteeGates = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async ValueTask<RoomEvent> AppendAsync(RoomEvent roomEvent, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomEvent.RoomId, cancellationToken);
        var appended = await hot.AppendAsync(roomEvent, cancellationToken);
        recorder.Appended(appended);
        return appended;
    }

    public async ValueTask<RoomCreation> CreateRoomAsync(string roomId, string userId, string visibility, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        var created = await hot.CreateRoomAsync(roomId, userId, visibility, cancellationToken);
        if (created == RoomCreation.Created)
        {
            await recorder.RoomCreatedAsync(roomId, visibility, userId, cancellationToken);
            _known[roomId] = new Lazy<Task<bool>>(Task.FromResult(true));
        }

        return created;
    }

    public async ValueTask<RoomEntry> EnterAsync(string roomId, RoomMember member, string connectionId, CancellationToken cancellationToken = default)
    {
        var recorded = await KnownAsync(roomId, cancellationToken);
        var entry = await hot.EnterAsync(roomId, member, connectionId, cancellationToken);
        Entered(roomId, member, entry, recorded);
        return entry;
    }

    public async ValueTask ExitAsync(string roomId, string userId, string connectionId, bool endMembership, CancellationToken cancellationToken = default)
    {
        await hot.ExitAsync(roomId, userId, connectionId, endMembership, cancellationToken);
        if (endMembership)
        {
            recorder.Left(roomId, userId);
        }
    }

    public async ValueTask<RoomEntry> EnsureMemberAsync(string roomId, RoomMember member, CancellationToken cancellationToken = default)
    {
        var recorded = await KnownAsync(roomId, cancellationToken);
        var entry = await hot.EnsureMemberAsync(roomId, member, cancellationToken);
        Entered(roomId, member, entry, recorded);
        return entry;
    }

    private void Entered(string roomId, RoomMember member, RoomEntry entry, bool recorded)
    {
        if (entry != RoomEntry.Entered)
        {
            return;
        }

        if (!recorded)
        {
            recorder.RoomSeen(roomId);
            _known[roomId] = new Lazy<Task<bool>>(Task.FromResult(true));
        }

        recorder.Joined(roomId, member);
    }

    public async ValueTask<RoomInvitation> InviteAsync(string roomId, string userId, int maxPerRoom, int maxPendingPerUser,
        CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);

        // The invitations of one person are counted and written one at a time on this node, so two rooms inviting them at
        // once cannot both take the last place. The locks are a fixed set shared by hash: their memory does not grow with users.
        var gate = _inviteeGates[(int)((uint)StringComparer.Ordinal.GetHashCode(userId) % (uint)_inviteeGates.Length)];
        await gate.WaitAsync(cancellationToken);
        try
        {
            int pending;
            using var answer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            answer.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                // The joins this node has recorded so far (each uses an invitation up) are written first, so they count.
                await recorder.FlushAsync(answer.Token);
                pending = await record.CountPendingInvitationsAsync(userId, roomId, answer.Token);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ChatRequestException(ChatRefusal.Unavailable, $"{record.Description} did not answer ({ex.GetType().Name}): try again in a moment");
            }

            if (pending >= maxPendingPerUser)
            {
                return RoomInvitation.InviteeFull;
            }

            var invited = await hot.InviteAsync(roomId, userId, maxPerRoom, maxPendingPerUser, cancellationToken);
            if (invited is RoomInvitation.Invited or RoomInvitation.AlreadyInvited)
            {
                await recorder.InvitedAsync(roomId, userId, null, cancellationToken);
            }

            return invited;
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask<bool> IsMemberAsync(string roomId, string userId, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        return await hot.IsMemberAsync(roomId, userId, cancellationToken);
    }

    public async ValueTask<bool> MayEnterAsync(string roomId, string userId, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        return await hot.MayEnterAsync(roomId, userId, cancellationToken);
    }

    public async ValueTask<RoomSnapshot> GetSnapshotAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        var snapshot = await hot.GetSnapshotAsync(roomId, cancellationToken);
        if (snapshot.Messages.Count == 0)
        {
            return snapshot;
        }

        try
        {
            var older = await record.GetMessagesAsync(roomId, snapshot.Messages[0].Seq, 1, cancellationToken);
            return snapshot with { HasMore = older.Messages.Count > 0 };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The room stays usable while the database is down; whether older messages exist is then a guess from the hot history.
            return snapshot with { HasMore = snapshot.Messages.Count >= options.Value.SnapshotMessages };
        }
    }

    public async ValueTask<EventRange> ReadAfterAsync(string roomId, long afterSeq, int limit = int.MaxValue, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        return await hot.ReadAfterAsync(roomId, afterSeq, limit, cancellationToken);
    }

    public async ValueTask<bool> ExistsAsync(string roomId, CancellationToken cancellationToken = default)
    {
        // A room the record knows is brought back first, so it counts as existing.
        await KnownAsync(roomId, cancellationToken);
        return await hot.ExistsAsync(roomId, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<ChatMessage>> GetHistoryAsync(string roomId, int maxMessages, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        return await hot.GetHistoryAsync(roomId, maxMessages, cancellationToken);
    }

    public ValueTask<bool> RestoreAsync(RestoredRoom room, CancellationToken cancellationToken = default) => hot.RestoreAsync(room, cancellationToken);

    public async ValueTask<RoomActivity> GetActivityAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        return await hot.GetActivityAsync(roomId, cancellationToken);
    }

    public async ValueTask<TypingOutcome> PublishTypingAsync(TypingEvent typing, TimeSpan interval, CancellationToken cancellationToken = default)
    {
        await KnownAsync(typing.RoomId, cancellationToken);
        return await hot.PublishTypingAsync(typing, interval, cancellationToken);
    }

    public async ValueTask<RoomSettings?> UpdateSettingsAsync(string roomId, RoomSettingsUpdate update, RoomMember by, bool checkPermission,
        CancellationToken cancellationToken = default)
    {
        await KnownAsync(roomId, cancellationToken);
        var settings = await hot.UpdateSettingsAsync(roomId, update, by, checkPermission, cancellationToken);
        if (settings is not null)
        {
            // Recorded like an invitation: stored before the change is acknowledged, and rebuilt with the room.
            await recorder.SettingsChangedAsync(roomId, settings, cancellationToken);
        }

        return settings;
    }

    /// <summary>True when the record has the room; the first time, the hot store gets the room from it if it does not know it.</summary>
    private async ValueTask<bool> KnownAsync(string roomId, CancellationToken cancellationToken)
    {
        if (_known.TryGetValue(roomId, out var known) && known.Value.IsCompletedSuccessfully)
        {
            return known.Value.Result;
        }

        if (_known.Count >= MaxKnown)
        {
            _known.Clear();
        }

        known = _known.GetOrAdd(roomId, id => new Lazy<Task<bool>>(() => LoadAsync(id)));
        return await AwaitAsync(roomId, known, cancellationToken);
    }

    /// <summary>
    /// The hot store found the room absent (Redis lost it while this node ran): the record is read again, whatever
    /// was cached, and a recorded room rebuilt. True when the record has the room; concurrent calls share one read.
    /// </summary>
    public async Task<bool> RebuildAsync(string roomId)
    {
        var fresh = new Lazy<Task<bool>>(() => LoadAsync(roomId));
        var known = _known.AddOrUpdate(roomId, fresh, (_, old) => old.IsValueCreated && !old.Value.IsCompleted ? old : fresh);
        return await AwaitAsync(roomId, known, CancellationToken.None);
    }

    private async Task<bool> AwaitAsync(string roomId, Lazy<Task<bool>> known, CancellationToken cancellationToken)
    {
        try
        {
            return await known.Value.WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Asked again next time; until the record answers, the room cannot be used here.
            _known.TryRemove(new KeyValuePair<string, Lazy<Task<bool>>>(roomId, known));
            throw new ChatRequestException(ChatRefusal.Unavailable, $"room '{roomId}' could not be read from {record.Description}: try again in a moment");
        }
    }

    private static RoomSettings ReadSettings(string? json)
    {
        if (json is null)
        {
            return RoomSettings.Default;
        }

        try
        {
            return JsonSerializer.Deserialize<RoomSettings>(json, ChatJson.Options) ?? RoomSettings.Default;
        }
        catch (JsonException)
        {
            return RoomSettings.Default;
        }
    }

    private async Task<bool> LoadAsync(string roomId)
    {
        var stored = await record.FindRoomAsync(roomId, CancellationToken.None);
        if (stored is null)
        {
            return false;
        }

        var history = await record.GetMessagesAsync(roomId, null, Math.Min(options.Value.MaxHistoryMessages, 200), CancellationToken.None);
        await hot.RestoreAsync(new RestoredRoom(
            roomId,
            stored.Visibility,
            stored.CreatorId,
            stored.Invited,
            stored.Members.Where(m => !m.Left).Select(m => new RoomMember(m.UserId, m.Name)).ToList(),
            history.Messages.Select(m => m.ToMessage()).ToList(),
            stored.LastSeq + RestartSeqGap) { Settings = ReadSettings(stored.Settings) });
        return true;
    }
}
