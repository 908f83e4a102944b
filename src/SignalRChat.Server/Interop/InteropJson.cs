using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalRChat.Server.Interop;

/// <summary>The JSON of the AG-UI and AI SDK streams: camelCase, optional fields left out (both protocols' validators reject a null where a field is optional).</summary>
internal static class InteropJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Read by scripts, never embedded in HTML: quotes in tool arguments stay readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
