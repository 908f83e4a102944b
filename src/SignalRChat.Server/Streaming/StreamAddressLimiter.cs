using System.Collections.Concurrent;
using System.Net;

namespace SignalRChat.Server.Streaming;

/// <summary>
/// Counts the streams (SSE, NDJSON, AG-UI, AI SDK) each client address holds open on this node
/// (<c>Chat:Streams:MaxPerAddress</c>). An address with none open is forgotten.
/// </summary>
internal sealed class StreamAddressLimiter
{
    private readonly ConcurrentDictionary<string, int> _open = new(StringComparer.Ordinal);

    public static string KeyOf(IPAddress? address) => address?.IsIPv4MappedToIPv6 == true ? address.MapToIPv4().ToString() : address?.ToString() ?? "unknown";

    public bool TryOpen(string address, int max)
    {
        while (true)
        {
            var open = _open.GetOrAdd(address, 0);
            if (open >= max)
            {
                return false;
            }

            if (_open.TryUpdate(address, open + 1, open))
            {
                return true;
            }
        }
    }

    public void Close(string address)
    {
        while (_open.TryGetValue(address, out var open))
        {
            if (open <= 1 ? _open.TryRemove(new KeyValuePair<string, int>(address, open)) : _open.TryUpdate(address, open - 1, open))
            {
                return;
            }
        }
    }
}
