using System.Net;

namespace SignalRChat.Server.Security;

/// <summary>
/// Settings of section <c>Chat:Proxy</c>: the reverse proxies whose <c>X-Forwarded-For</c> and
/// <c>X-Forwarded-Proto</c> are believed. With none configured no forwarded header is read, so no client
/// can choose its own address.
/// </summary>
public sealed class ProxyOptions
{
    public const string Section = "Chat:Proxy";

    /// <summary>Addresses of trusted proxies, e.g. <c>127.0.0.1</c> or <c>172.30.80.10</c>.</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks of trusted proxies in CIDR form, e.g. <c>10.0.0.0/24</c>.</summary>
    public string[] KnownNetworks { get; set; } = [];

    public bool Configured => KnownProxies.Length > 0 || KnownNetworks.Length > 0;

    /// <summary>The first entry that does not parse, named by its key, or null when all do.</summary>
    public string? FirstInvalid()
    {
        for (var i = 0; i < KnownProxies.Length; i++)
        {
            if (!IPAddress.TryParse(KnownProxies[i], out _))
            {
                return $"{Section}:{nameof(KnownProxies)}:{i} ('{KnownProxies[i]}') is not an IP address, e.g. 127.0.0.1";
            }
        }

        for (var i = 0; i < KnownNetworks.Length; i++)
        {
            if (!IPNetwork.TryParse(KnownNetworks[i], out _))
            {
                return $"{Section}:{nameof(KnownNetworks)}:{i} ('{KnownNetworks[i]}') is not a network in CIDR form, e.g. 10.0.0.0/24";
            }
        }

        return null;
    }
}
