using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Rooms in Redis, shared by every node: state, history, the in-flight reply, presence and the
/// event log, changed only by <see cref="RedisScripts.Room"/>; each appended event is published
/// on the room's channel, which every node with members in the room subscribes to.
/// </summary>
internal sealed class RedisRoomStore(IConnectionMultiplexer redis, IOptions<RoomOptions> options, ChatMetrics metrics, TimeProvider time, ILogger<RedisRoomStore> logger)
    : IRoomStore, IRoomEventBus
{
    private readonly ConcurrentDictionary<string, Task> _watched = new(StringComparer.Ordinal);
    private Action<RoomEvent>? _subscribers;

    public void Subscribe(Action<RoomEvent> handler) => _subscribers += handler;

    public Task WatchAsync(string roomId) => _watched.GetOrAdd(roomId, WatchCoreAsync);

    private async Task WatchCoreAsync(string roomId)
    {
        // A queue (not a handler) so messages are handled one at a time, in the order Redis sent them.
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisKeys.RoomChannel(roomId));
        queue.OnMessage(message =>
        {
            try
            {
                _subscribers?.Invoke(EventCodec.Decode(message.Message!));
            }
            catch (Exception ex)
            {
                RedisLog.BadMessage(logger, roomId, ex);
            }
        });
    }

    public async ValueTask<RoomEvent> AppendAsync(RoomEvent roomEvent, CancellationToken cancellationToken = default)
    {
        var seq = (long)await RunAsync(roomEvent.RoomId, "append", roomEvent.Kind, EventCodec.Template(roomEvent), EventCodec.Hint(roomEvent));
        return EventCodec.Numbered(roomEvent, seq);
    }

    public async ValueTask<RoomCreation> CreateRoomAsync(string roomId, string userId, string visibility, CancellationToken cancellationToken = default) =>
        (string?)await RunAsync(roomId, "create", userId, visibility) switch
        {
            "created" => RoomCreation.Created,
            "yours" => RoomCreation.AlreadyYours,
            _ => RoomCreation.TakenByOther,
        };

    public async ValueTask<RoomEntry> EnterAsync(string roomId, RoomMember member, string connectionId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "enter", member.UserId, member.Name, connectionId) == 1 ? RoomEntry.Entered : RoomEntry.NotInvited;

    public async ValueTask ExitAsync(string roomId, string userId, string connectionId, bool endMembership, CancellationToken cancellationToken = default) =>
        await RunAsync(roomId, "exit", userId, connectionId, endMembership ? "1" : "0");

    public async ValueTask<RoomEntry> EnsureMemberAsync(string roomId, RoomMember member, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "ensure", member.UserId, member.Name) == 1 ? RoomEntry.Entered : RoomEntry.NotInvited;

    public async ValueTask<bool> InviteAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "invite", userId) == 1;

    public async ValueTask<bool> IsMemberAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "ismember", userId) == 1;

    public async ValueTask<bool> MayEnterAsync(string roomId, string userId, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(roomId, "mayenter", userId) == 1;

    public ValueTask<RoomSnapshot> GetSnapshotAsync(string roomId, CancellationToken cancellationToken = default) =>
        SnapshotAsync(roomId, options.Value.SnapshotMessages);

    public async ValueTask<IReadOnlyList<ChatMessage>> GetHistoryAsync(string roomId, int maxMessages, CancellationToken cancellationToken = default) =>
        (await SnapshotAsync(roomId, maxMessages)).Messages;

    public async ValueTask<EventRange> ReadAfterAsync(string roomId, long afterSeq, CancellationToken cancellationToken = default)
    {
        var result = (RedisResult[])(await RunAsync(roomId, "read", afterSeq))!;
        var last = (long)result[0];
        if ((long)result[1] == 1)
        {
            return new EventRange(true, last, []);
        }

        var entries = (RedisResult[])result[2]!;
        return new EventRange(false, last, entries.Select(e => EventCodec.Decode((string)e!, logged: true)).ToList());
    }

    private async ValueTask<RoomSnapshot> SnapshotAsync(string roomId, int maxMessages)
    {
        var result = (RedisResult[])(await RunAsync(roomId, "snapshot", maxMessages))!;
        var lastSeq = long.Parse((string)result[0]!, System.Globalization.CultureInfo.InvariantCulture);
        var (generationId, messageId, state, text) = ((string)result[2]!, (string)result[3]!, (string)result[4]!, (string)result[5]!);
        var active = generationId.Length == 0 ? null : new ActiveGeneration(generationId, messageId, text, state);
        var messages = ((RedisResult[])result[1]!)
            .Select(m => JsonSerializer.Deserialize<ChatMessage>((string)m!, ChatJson.Options)!)
            .Select(m => active is not null && m.MessageId == active.MessageId ? m with { Text = active.Text } : m)
            .ToList();
        var online = (RedisResult[])result[6]!;
        var members = new List<RoomMember>(online.Length / 2);
        for (var i = 0; i + 1 < online.Length; i += 2)
        {
            members.Add(new RoomMember((string)online[i]!, (string)online[i + 1]!));
        }

        return new RoomSnapshot(roomId, lastSeq, members, messages, active);
    }

    /// <summary>Runs one operation of the room script.</summary>
    internal Task<RedisResult> RunAsync(string roomId, string operation, params RedisValue[] arguments)
    {
        var settings = options.Value;
        var values = new RedisValue[7 + arguments.Length];
        values[0] = operation;
        values[1] = time.GetUtcNow().ToUnixTimeMilliseconds();
        values[2] = settings.EventLogSize;
        values[3] = (long)settings.EventLogMaxAge.TotalMilliseconds;
        values[4] = settings.MaxHistoryMessages;
        values[5] = roomId;
        values[6] = RedisKeys.RoomChannel(roomId).ToString();
        arguments.CopyTo(values, 7);
        return metrics.TimeRedisAsync(operation, redis.GetDatabase().ScriptEvaluateAsync(RedisScripts.Room, [RedisKeys.Room(roomId), RedisKeys.Global], values));
    }
}
