using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Security;

/// <summary>Forwarded headers, believed only from the proxies of <c>Chat:Proxy</c>.</summary>
internal static class ProxyExtensions
{
    public static IServiceCollection AddChatProxy(this IServiceCollection services)
    {
        services.AddOptions<ProxyOptions>().BindConfiguration(ProxyOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProxyOptions>, ProxyOptionsValidator>();
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ProxyOptions>>((forwarded, proxy) =>
        {
            // ASP.NET Core trusts loopback by default; only what is configured is trusted here.
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            // One proxy in front: the last address it wrote is the client's, anything a client wrote before it is ignored.
            forwarded.ForwardLimit = 1;
            foreach (var address in proxy.Value.KnownProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(address));
            }

            foreach (var network in proxy.Value.KnownNetworks)
            {
                forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        return services;
    }

    /// <summary>Reads the forwarded headers when a proxy is configured; without one the peer address is the client's.</summary>
    public static IApplicationBuilder UseChatForwardedHeaders(this IApplicationBuilder app) =>
        app.ApplicationServices.GetRequiredService<IOptions<ProxyOptions>>().Value.Configured ? app.UseForwardedHeaders() : app;
}
