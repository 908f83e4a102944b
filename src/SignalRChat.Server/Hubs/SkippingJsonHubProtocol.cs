using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace SignalRChat.Server.Hubs;

/// <summary>
/// The JSON hub protocol, except that a whole record of an unknown message type is skipped. The
/// stock protocol returns "nothing parsed" for it without consuming it, so the connection would
/// re-read the same record forever and never get to the sender's next call.
/// </summary>
internal sealed class SkippingJsonHubProtocol(JsonHubProtocol inner) : IHubProtocol
{
    public string Name => inner.Name;

    public int Version => inner.Version;

    public TransferFormat TransferFormat => inner.TransferFormat;

    public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [NotNullWhen(true)] out HubMessage? message)
    {
        var length = input.Length;
        if (inner.TryParseMessage(ref input, binder, out message))
        {
            return true;
        }

        if (input.Length < length)
        {
            // A complete record was read but is no message we know: answer it as the no-op it is.
            message = PingMessage.Instance;
            return true;
        }

        return false;
    }

    public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => inner.WriteMessage(message, output);

    public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => inner.GetMessageBytes(message);

    public bool IsVersionSupported(int version) => inner.IsVersionSupported(version);
}
