using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace SignalRChat.Server.Streaming;

/// <summary>
/// Kestrel's limits, set here on purpose rather than left to whatever the defaults are. Long-lived
/// streams (hub, SSE, NDJSON) are bounded by the chat's own limits (connections per user, streams
/// per address); these bound what any request may cost before the chat sees it.
/// </summary>
internal static class KestrelLimits
{
    public static void Apply(KestrelServerOptions kestrel)
    {
        var limits = kestrel.Limits;
        // Headers (a bearer token, cookies) fit easily; a client that sends them slowly is cut off.
        limits.MaxRequestHeadersTotalSize = 32 * 1024;
        limits.MaxRequestLineSize = 8 * 1024;
        limits.RequestHeadersTimeout = TimeSpan.FromSeconds(15);
        // Body sizes are limited per route (64 KiB on sign-in and room routes, Chat:Interop:MaxRequestBytes on the interop ones).
        // A body trickled in below 240 bytes/s after 5 s is dropped (Kestrel's default, kept explicit).
        limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(5));
        limits.KeepAliveTimeout = TimeSpan.FromMinutes(2);
        // HTTP/2: concurrent requests on one connection (the default, kept explicit); streams are capped per address.
        limits.Http2.MaxStreamsPerConnection = 100;
    }
}
