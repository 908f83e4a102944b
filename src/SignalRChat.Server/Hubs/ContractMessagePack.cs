using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;
using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Hubs;

/// <summary>
/// MessagePack for the contract's records with exactly the JSON protocol's shape: camelCase keys,
/// absent optional fields, ISO-8601 times. A JS client then reads <c>{roomId, seq, text}</c> on
/// either protocol, and the .NET client's records read back from the same maps.
/// </summary>
internal static class ContractMessagePack
{
    /// <summary>The hub protocol's default options with the contract's records in their JSON shape.</summary>
    public static MessagePackSerializerOptions Options { get; } = Create();

    private static MessagePackSerializerOptions Create()
    {
        var defaults = new MessagePackHubProtocolOptions().SerializerOptions;
        return defaults.WithResolver(CompositeResolver.Create(ContractResolver.Instance, defaults.Resolver));
    }

    private sealed class ContractResolver : IFormatterResolver
    {
        public static readonly ContractResolver Instance = new();

        private static readonly ConcurrentDictionary<Type, object?> Formatters = new();

        public IMessagePackFormatter<T>? GetFormatter<T>() =>
            (IMessagePackFormatter<T>?)Formatters.GetOrAdd(typeof(T), static type =>
                type == typeof(TokenEvent) ? new TokenFormatter()
                : type.Assembly == typeof(RoomEvent).Assembly && !type.IsEnum
                    ? Activator.CreateInstance(typeof(JsonShapeFormatter<>).MakeGenericType(type))
                    : null);
    }

    /// <summary>
    /// The token delta, by far the most frequent message, written and read directly (the same map
    /// as its JSON shape) instead of through a JSON document: every member decodes one per delta.
    /// </summary>
    private sealed class TokenFormatter : IMessagePackFormatter<TokenEvent?>
    {
        public void Serialize(ref MessagePackWriter writer, TokenEvent? value, MessagePackSerializerOptions options)
        {
            if (value is null)
            {
                writer.WriteNil();
                return;
            }

            writer.WriteMapHeader(value.FirstSeq is null ? 4 : 5);
            writer.Write("roomId");
            writer.Write(value.RoomId);
            writer.Write("generationId");
            writer.Write(value.GenerationId);
            writer.Write("text");
            writer.Write(value.Text);
            writer.Write("seq");
            writer.Write(value.Seq);
            if (value.FirstSeq is { } firstSeq)
            {
                writer.Write("firstSeq");
                writer.Write(firstSeq);
            }
        }

        public TokenEvent? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
        {
            if (reader.TryReadNil())
            {
                return null;
            }

            string? roomId = null, generationId = null, text = null;
            long seq = 0;
            long? firstSeq = null;
            var properties = reader.ReadMapHeader();
            for (var i = 0; i < properties; i++)
            {
                if (reader.NextMessagePackType != MessagePackType.String)
                {
                    throw new MessagePackSerializationException("map keys must be strings");
                }

                switch (reader.ReadString())
                {
                    case "roomId":
                        roomId = reader.ReadString();
                        break;
                    case "generationId":
                        generationId = reader.ReadString();
                        break;
                    case "text":
                        text = reader.ReadString();
                        break;
                    case "seq":
                        seq = reader.ReadInt64();
                        break;
                    case "firstSeq":
                        firstSeq = reader.TryReadNil() ? null : reader.ReadInt64();
                        break;
                    default:
                        // A field this version does not know is skipped, as the JSON reader does.
                        reader.Skip();
                        break;
                }
            }

            return new TokenEvent(roomId!, generationId!, text!) { Seq = seq, FirstSeq = firstSeq };
        }
    }

    /// <summary>Goes through System.Text.Json with the web defaults, the same as the JSON hub protocol.</summary>
    private sealed class JsonShapeFormatter<T> : IMessagePackFormatter<T?>
    {
        private const int MaxDepth = 64;
        private static readonly JsonSerializerOptions Json = ContractJson.Apply(new(JsonSerializerDefaults.Web));

        public void Serialize(ref MessagePackWriter writer, T? value, MessagePackSerializerOptions options)
        {
            if (value is null)
            {
                writer.WriteNil();
                return;
            }

            // The runtime type, so that a RoomEvent sent as its base type keeps its own fields.
            using var document = JsonSerializer.SerializeToDocument(value, value.GetType(), Json);
            Write(ref writer, document.RootElement);
        }

        public T? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
        {
            if (reader.TryReadNil())
            {
                return default;
            }

            var buffer = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer))
            {
                Read(ref reader, json, 0);
            }

            return JsonSerializer.Deserialize<T>(buffer.WrittenSpan, Json);
        }

        private static void Write(ref MessagePackWriter writer, JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    var count = 0;
                    foreach (var _ in element.EnumerateObject())
                    {
                        count++;
                    }

                    writer.WriteMapHeader(count);
                    foreach (var property in element.EnumerateObject())
                    {
                        writer.Write(property.Name);
                        Write(ref writer, property.Value);
                    }

                    break;
                case JsonValueKind.Array:
                    writer.WriteArrayHeader(element.GetArrayLength());
                    foreach (var item in element.EnumerateArray())
                    {
                        Write(ref writer, item);
                    }

                    break;
                case JsonValueKind.String:
                    writer.Write(element.GetString());
                    break;
                case JsonValueKind.Number when element.TryGetInt64(out var integer):
                    writer.Write(integer);
                    break;
                case JsonValueKind.Number:
                    writer.Write(element.GetDouble());
                    break;
                case JsonValueKind.True:
                    writer.Write(true);
                    break;
                case JsonValueKind.False:
                    writer.Write(false);
                    break;
                default:
                    writer.WriteNil();
                    break;
            }
        }

        private static void Read(ref MessagePackReader reader, Utf8JsonWriter json, int depth)
        {
            if (depth > MaxDepth)
            {
                throw new MessagePackSerializationException($"nested deeper than {MaxDepth} levels");
            }

            switch (reader.NextMessagePackType)
            {
                case MessagePackType.Map:
                    var properties = reader.ReadMapHeader();
                    json.WriteStartObject();
                    for (var i = 0; i < properties; i++)
                    {
                        if (reader.NextMessagePackType != MessagePackType.String)
                        {
                            throw new MessagePackSerializationException("map keys must be strings");
                        }

                        json.WritePropertyName(reader.ReadString()!);
                        Read(ref reader, json, depth + 1);
                    }

                    json.WriteEndObject();
                    break;
                case MessagePackType.Array:
                    var items = reader.ReadArrayHeader();
                    json.WriteStartArray();
                    for (var i = 0; i < items; i++)
                    {
                        Read(ref reader, json, depth + 1);
                    }

                    json.WriteEndArray();
                    break;
                case MessagePackType.String:
                    json.WriteStringValue(reader.ReadString());
                    break;
                case MessagePackType.Integer:
                    if (reader.NextCode != MessagePackCode.UInt64)
                    {
                        json.WriteNumberValue(reader.ReadInt64());
                    }
                    else
                    {
                        json.WriteNumberValue(reader.ReadUInt64());
                    }

                    break;
                case MessagePackType.Float:
                    json.WriteNumberValue(reader.ReadDouble());
                    break;
                case MessagePackType.Boolean:
                    json.WriteBooleanValue(reader.ReadBoolean());
                    break;
                case MessagePackType.Nil:
                    reader.ReadNil();
                    json.WriteNullValue();
                    break;
                default:
                    throw new MessagePackSerializationException($"unexpected {reader.NextMessagePackType} in a contract object");
            }
        }
    }
}
