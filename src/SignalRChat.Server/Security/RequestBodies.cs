using Microsoft.AspNetCore.Mvc;

namespace SignalRChat.Server.Security;

/// <summary>
/// The most a JSON request body of the sign-in and room endpoints may hold: enough for the longest message
/// (Chat:Limits:MaxMessageChars) in any script, and checked by the server before anything is parsed.
/// </summary>
internal static class RequestBodies
{
    public const long MaxBytes = 64 * 1024;

    /// <summary>Routing sets the request's body limit from this metadata, so a bigger body is refused with 413 while it arrives.</summary>
    public static TBuilder WithSmallBodies<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestSizeLimitAttribute(MaxBytes));
}
