using System.IO.Hashing;
using System.Text;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Every Redis key and channel name the service uses, built in one place. Every key of a room carries
/// the hash tag <c>{room:ID}</c>, so a room lives in one hash slot of a Redis Cluster and its scripts
/// touch one shard; nothing a room script touches is global.
/// </summary>
internal static class RedisKeys
{
    /// <summary>Lease index buckets: rooms spread over them, so no single shard carries every node's renewals.</summary>
    public const int LeaseBuckets = 16;

    /// <summary>The prefix of a room's keys; the hash tag keeps them in one slot.</summary>
    public static string Room(string roomId) => $"chat:{{room:{roomId}}}";

    /// <summary>A room's events, on sharded pub/sub: the channel lives in the room's slot, so rooms spread over a cluster's shards.</summary>
    public static RedisChannel RoomChannel(string roomId) => RedisChannel.Sharded($"chat:{{room:{roomId}}}:events");

    /// <summary>Stops for the replies one node runs, heard only by that node (sharded: each node's channel on one shard).</summary>
    public static RedisChannel NodeCancelChannel(string nodeId) => RedisChannel.Sharded($"chat:{{node:{nodeId}}}:cancel");

    /// <summary>The room of a generation, for a Stop that names only the generation.</summary>
    public static RedisKey GenerationRoom(string generationId) => $"chat:{{gen:{generationId}}}:room";

    /// <summary>The lease index bucket a room's running reply is listed in, by a stable hash of the room id.</summary>
    public static RedisKey LeaseBucketOf(string roomId) => LeaseBucket((int)(Crc32.HashToUInt32(Encoding.UTF8.GetBytes(roomId)) % LeaseBuckets));

    public static RedisKey LeaseBucket(int bucket) => $"chat:{{leases:{bucket}}}";

    /// <summary>A tool call's approval: its room and its state (pending, approved, denied, expired).</summary>
    public static RedisKey Approval(string approvalId) => $"chat:approval:{approvalId}";

    /// <summary>The mark of a used single-use ticket (<c>POST /api/auth/ticket</c>), expiring with the ticket.</summary>
    public static RedisKey UsedTicket(string ticketId) => $"chat:ticket:{ticketId}";

    /// <summary>Decisions on approvals, heard by every node; the one whose reply waits goes on.</summary>
    public static RedisChannel ApprovalChannel { get; } = RedisChannel.Literal("chat:approvals");
}

/// <summary>The names of one room's keys (all in the room's hash slot) and of its channel, as every room and queue script takes them.</summary>
internal sealed class RoomKeys
{
    public RoomKeys(string roomId)
    {
        var room = RedisKeys.Room(roomId);
        Seq = room + ":seq";
        Log = room + ":log";
        History = room + ":history";
        Active = room + ":active";
        ActiveText = room + ":active:text";
        Meta = room + ":meta";
        Members = room + ":members";
        Presence = room + ":presence";
        Conns = room + ":conns";
        Invited = room + ":invited";
        Queue = room + ":queue";
        Running = room + ":running";
        Lease = room + ":lease";
        Gens = room + ":gens";
        Typing = room + ":typing";
        Writes = room + ":writes";
        Channel = RedisKeys.RoomChannel(roomId).ToString();
    }

    public RedisKey Seq { get; }
    public RedisKey Log { get; }
    public RedisKey History { get; }
    public RedisKey Active { get; }
    public RedisKey ActiveText { get; }
    public RedisKey Meta { get; }
    public RedisKey Members { get; }
    public RedisKey Presence { get; }
    public RedisKey Conns { get; }
    public RedisKey Invited { get; }
    public RedisKey Queue { get; }
    public RedisKey Running { get; }
    public RedisKey Lease { get; }
    public RedisKey Gens { get; }
    public RedisKey Typing { get; }

    /// <summary>The held-back writes Redis took (write id to seq), kept ten minutes, so a retried one is not written twice.</summary>
    public RedisKey Writes { get; }

    /// <summary>The room's sharded channel (<see cref="RedisKeys.RoomChannel"/>), by name.</summary>
    public RedisValue Channel { get; }
}
