using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Auth;

/// <summary>
/// A limit per user on an authenticated endpoint: a token bucket of <see cref="Limit"/> a <paramref name="period"/> for each
/// user (the issuer keeps ids of different issuers apart), answered beyond it with 429, <c>Retry-After</c> and a sentence
/// naming <paramref name="key"/>.
/// </summary>
internal abstract class PerUserRateLimit(string what, string key, TimeSpan period) : IRateLimiterPolicy<string>
{
    protected abstract int Limit { get; }

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => RejectAsync;

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var limit = Limit;
        // The endpoint requires authorization, so a user is known.
        var user = httpContext.User;
        var partition = $"{user.FindFirst(TokenService.IssuerClaim)?.Value}|{user.FindFirst(TokenService.UserIdClaim)?.Value}";
        return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit,
            TokensPerPeriod = limit,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : period;
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.Response.WriteAsJsonAsync(new { error = $"rate limit: {Limit} {what}, try again in {seconds} s ({key})" }, cancellationToken);
    }
}

/// <summary>
/// Token refreshes per user and hour (<c>Chat:Auth:RefreshesPerHour</c>): a stolen token cannot be turned
/// into a stream of fresh ones, and a refresh loop cannot load the node.
/// </summary>
internal sealed class TokenRefreshLimit(IOptions<AuthOptions> options) : PerUserRateLimit("token refreshes an hour", "Chat:Auth:RefreshesPerHour", TimeSpan.FromHours(1))
{
    public const string Policy = "token-refresh";

    protected override int Limit => options.Value.RefreshesPerHour;
}

/// <summary>
/// Tickets per user and minute (<c>Chat:Auth:TicketsPerMinute</c>): a page needs one per connect and reconnect, and a loop
/// cannot fill the node's list of used tickets so that other people's tickets are refused.
/// </summary>
internal sealed class TicketIssueLimit(IOptions<AuthOptions> options) : PerUserRateLimit("tickets a minute", "Chat:Auth:TicketsPerMinute", TimeSpan.FromMinutes(1))
{
    public const string Policy = "ticket-issue";

    protected override int Limit => options.Value.TicketsPerMinute;
}
