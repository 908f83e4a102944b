using Microsoft.Net.Http.Headers;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Auth;

/// <summary>Where a request's bearer token may come from.</summary>
internal static class BearerTokens
{
    public const string QueryParameter = "access_token";

    /// <summary>
    /// The <c>Authorization: Bearer</c> token, or on the hub and the SSE route only (WebSockets and
    /// EventSource cannot set headers) the <c>access_token</c> query parameter.
    /// </summary>
    public static string? Read(HttpRequest request)
    {
        string? header = request.Headers[HeaderNames.Authorization];
        if (header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = header["Bearer ".Length..].Trim();
            return token.Length == 0 ? null : token;
        }

        if (MayCarryQueryToken(request.Path) && request.Query.TryGetValue(QueryParameter, out var values))
        {
            var token = values.ToString();
            return token.Length == 0 ? null : token;
        }

        return null;
    }

    public static bool MayCarryQueryToken(PathString path) => path.StartsWithSegments(ChatProtocol.HubPath) || IsEventStreamPath(path);

    // GET /api/rooms/{roomId}/events: exactly three segments after /api, nothing after "events".
    private static bool IsEventStreamPath(PathString path)
    {
        if (!path.StartsWithSegments("/api/rooms", StringComparison.Ordinal, out var rest) || !rest.HasValue)
        {
            return false;
        }

        var parts = rest.Value!.Split('/');
        return parts.Length == 3 && parts[0].Length == 0 && parts[1].Length > 0 && parts[2] == "events";
    }
}
