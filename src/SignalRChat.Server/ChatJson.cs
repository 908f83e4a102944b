using System.Text.Encodings.Web;
using System.Text.Json;
using SignalRChat.Contracts;

namespace SignalRChat.Server;

/// <summary>The JSON of the plain HTTP endpoints and of what is stored: camelCase, like the hub's JSON protocol.</summary>
internal static class ChatJson
{
    /// <summary>
    /// Text is written as UTF-8, not as <c>\uXXXX</c> for every non-ASCII character: "héllo 世界" stays that
    /// size. This JSON is never put into HTML unescaped (the page sets text, not markup), so the
    /// HTML-sensitive characters need no escaping either; quotes and control characters still are.
    /// </summary>
    public static JavaScriptEncoder Encoder => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static JsonSerializerOptions Options { get; } = ContractJson.Apply(new(JsonSerializerDefaults.Web) { Encoder = Encoder });

    public static byte[] Serialize(RoomEvent roomEvent) => JsonSerializer.SerializeToUtf8Bytes(roomEvent, roomEvent.GetType(), Options);

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);
}
