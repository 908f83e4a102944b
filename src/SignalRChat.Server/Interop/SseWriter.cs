using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SignalRChat.Server.Interop;

/// <summary>
/// Server-Sent Events for one response, written into a buffer and sent on <see cref="FlushAsync"/>,
/// so several events made from one room event go out in one write. Lines end in <c>\n</c> only:
/// the AG-UI client splits events on <c>\n\n</c>.
/// </summary>
internal sealed class SseWriter(Stream body)
{
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();
    private readonly ArrayBufferWriter<byte> _buffer = new();

    /// <summary>One event: <c>id:</c> the room seq it comes from (none for events of this stream alone), <c>data:</c> the JSON.</summary>
    public void Event<T>(long? seq, T payload)
    {
        if (seq is { } id)
        {
            Ascii("id: ");
            Ascii(id.ToString(CultureInfo.InvariantCulture));
            Ascii("\n");
        }

        Ascii("data: ");
        // The runtime type, so that an event sent as its base type keeps its own fields.
        using (var json = new Utf8JsonWriter(_buffer))
        {
            JsonSerializer.Serialize(json, payload, payload!.GetType(), InteropJson.Options);
        }

        Ascii("\n\n");
    }

    /// <summary>A data line that is not JSON (the AI SDK stream's closing <c>[DONE]</c>).</summary>
    public void Data(string text)
    {
        Ascii("data: ");
        Ascii(text);
        Ascii("\n\n");
    }

    public void Comment() => _buffer.Write(KeepAlive);

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffer.WrittenCount > 0)
        {
            await body.WriteAsync(_buffer.WrittenMemory, cancellationToken);
            _buffer.Clear();
        }

        await body.FlushAsync(cancellationToken);
    }

    private void Ascii(string text)
    {
        var span = _buffer.GetSpan(text.Length);
        var written = Encoding.ASCII.GetBytes(text, span);
        _buffer.Advance(written);
    }
}
