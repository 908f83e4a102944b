using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Auth;

/// <summary>
/// Token refreshes per user and hour (<c>Chat:Auth:RefreshesPerHour</c>): a stolen token cannot be turned
/// into a stream of fresh ones, and a refresh loop cannot load the node.
/// </summary>
internal sealed class TokenRefreshLimit(IOptions<AuthOptions> options) : IRateLimiterPolicy<string>
{
    public const string Policy = "token-refresh";

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => RejectAsync;

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var perHour = options.Value.RefreshesPerHour;
        // The endpoint requires authorization, so a user is known; the issuer keeps ids of different issuers apart.
        var user = httpContext.User;
        var key = $"{user.FindFirst(TokenService.IssuerClaim)?.Value}|{user.FindFirst(TokenService.UserIdClaim)?.Value}";
        return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perHour,
            TokensPerPeriod = perHour,
            ReplenishmentPeriod = TimeSpan.FromHours(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromHours(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.Response.WriteAsJsonAsync(new
        {
            error = $"rate limit: {options.Value.RefreshesPerHour} token refreshes an hour, try again in {seconds} s (Chat:Auth:RefreshesPerHour)",
        }, cancellationToken);
    }
}
