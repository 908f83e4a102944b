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
