using System.Text.Json;
using SignalRChat.Contracts;

namespace SignalRChat.Server;

/// <summary>The JSON of the plain HTTP endpoints: camelCase, like the hub's JSON protocol.</summary>
internal static class ChatJson
{
    public static JsonSerializerOptions Options { get; } = ContractJson.Apply(new(JsonSerializerDefaults.Web));

    public static byte[] Serialize(RoomEvent roomEvent) => JsonSerializer.SerializeToUtf8Bytes(roomEvent, roomEvent.GetType(), Options);

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);
}
