using System.Buffers;
using System.Text.Json;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Interop;

/// <summary>Reads a request's JSON body up to a size, answering anything else as a refusal that says what was wrong.</summary>
internal static class JsonBody
{
    public static async Task<JsonElement> ReadObjectAsync(HttpRequest request, int maxBytes, string expected, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            var memory = buffer.GetMemory(16 * 1024);
            var read = await request.Body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                throw new ChatRequestException(ChatRefusal.BadRequest,
                    $"the request body is larger than {maxBytes} bytes ({InteropOptions.Section}:{nameof(InteropOptions.MaxRequestBytes)})");
            }
        }

        if (buffer.WrittenCount == 0)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"the request body is empty: send {expected} as JSON");
        }

        JsonElement body;
        try
        {
            using var document = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = 64 });
            body = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"the request body is not valid JSON ({ex.Message}): send {expected}");
        }

        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"the request body must be a JSON object: {expected}");
        }

        return body;
    }

    /// <summary>A string property, null when absent; a value of another type is refused, naming the field.</summary>
    public static string? OptionalString(JsonElement body, string name, string where)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new ChatRequestException(ChatRefusal.BadRequest, $"{where}{name} must be a string");
    }

    /// <summary>The refusal of a last user message whose parts hold no text (only files, images, data).</summary>
    public static string NoTextParts(string field) =>
        $"the last user message has no text part in {field}: a room takes text, so only \"type\": \"text\" parts are posted (files, images and other parts are not)";

    /// <summary>The array property <paramref name="name"/>; absent, of another type, or empty is refused.</summary>
    public static JsonElement RequiredArray(JsonElement body, string name, string why)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Array)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"{name} must be an array of messages: {why}");
        }

        if (value.GetArrayLength() == 0)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, $"{name} is empty: {why}");
        }

        return value;
    }
}
