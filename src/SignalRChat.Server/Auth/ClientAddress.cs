using System.Net;
using System.Net.Sockets;

namespace SignalRChat.Server.Auth;

/// <summary>The key that counts one client's requests: an IPv4 address, or an IPv6 address's /64.</summary>
internal static class ClientAddress
{
    // One IPv6 subscriber usually holds a whole /64, so counting single IPv6 addresses would give one
    // person 2^64 buckets.
    public static string PartitionKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
