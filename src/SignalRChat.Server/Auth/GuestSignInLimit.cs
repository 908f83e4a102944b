using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Auth;

/// <summary>
/// Guest sign-ins per client address. Every guest is a new user with fresh per-user limits, so
/// without this a script could sign in again whenever a limit stopped it.
/// </summary>
internal static class GuestSignInLimit
{
    public const string Policy = "guest-sign-in";

    /// <summary>Development (and its test servers) signs in many guests from one address; elsewhere 30 a minute.</summary>
    public static int PerMinute(LimitOptions limits, IHostEnvironment environment) =>
        limits.GuestSignInsPerMinute ?? (environment.IsDevelopment() ? 0 : 30);

    public static IServiceCollection AddGuestSignInLimit(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(Policy, context =>
            {
                var perMinute = PerMinute(context.RequestServices.GetRequiredService<IOptions<LimitOptions>>().Value,
                    context.RequestServices.GetRequiredService<IHostEnvironment>());
                if (perMinute <= 0)
                {
                    return RateLimitPartition.GetNoLimiter("unlimited");
                }

                // The peer address, or behind a configured proxy (Chat:Proxy) the address it forwarded.
                var address = ClientAddress.PartitionKey(context.Connection.RemoteIpAddress);
                return RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = perMinute,
                    TokensPerPeriod = perMinute,
                    ReplenishmentPeriod = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var context = rejected.HttpContext;
                var perMinute = PerMinute(context.RequestServices.GetRequiredService<IOptions<LimitOptions>>().Value,
                    context.RequestServices.GetRequiredService<IHostEnvironment>());
                var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromMinutes(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await context.Response.WriteAsJsonAsync(new
                {
                    error = $"rate limit: {perMinute} guest sign-ins a minute from one address, try again in {seconds} s (Chat:Limits:GuestSignInsPerMinute)",
                }, cancellationToken);
            };
        });
        return services;
    }
}
