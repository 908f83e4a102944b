using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>Every Redis key and channel name the service uses, built in one place.</summary>
internal static class RedisKeys
{
    public const string Global = "chat";

    /// <summary>The prefix of a room's keys; the hash tag keeps them in one slot.</summary>
    public static RedisKey Room(string roomId) => $"chat:{{room:{roomId}}}";

    public static RedisChannel RoomChannel(string roomId) => RedisChannel.Literal($"chat:room:{roomId}");

    /// <summary>Cancel requests for generations, heard by every node; the one running it stops it.</summary>
    public static RedisChannel CancelChannel { get; } = RedisChannel.Literal("chat:cancel");

    public static RedisKey Leases => "chat:leases";

    public static RedisKey GenerationRoom(string generationId) => $"chat:genroom:{generationId}";
}
