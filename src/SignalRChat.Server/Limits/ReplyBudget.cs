using Microsoft.Extensions.Options;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Limits;

/// <summary>
/// The one place model spending is judged and counted: the daily budget of the user who asked for a
/// reply (<c>Chat:Limits:DailyTokensPerUser</c>) and of the address their guest session signed in from
/// (<c>Chat:Limits:DailyTokensPerAddress</c>). Checked before a message starts a reply and while it
/// streams; charged once a reply ends, however it ended.
/// </summary>
internal sealed class ReplyBudget(IUserLimiter limiter, IOptions<LimitOptions> limits, IOptions<BudgetOptions> budgets, IHostEnvironment environment, TimeProvider time)
{
    private const string AddressPrefix = "address:";

    /// <summary>Refuses a new reply when the user's or the address's budget for today is spent.</summary>
    public async Task RequireAsync(ChatUser user, CancellationToken cancellationToken = default)
    {
        if (await ExhaustedAsync(user, cancellationToken) is { } refusal)
        {
            var now = time.GetUtcNow();
            var reset = new DateTimeOffset(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero) - now;
            throw new ChatRequestException(ChatRefusal.TooManyRequests,
                $"daily token budget: {refusal}, try again after 00:00 UTC, in {(int)reset.TotalHours} h {reset.Minutes} min");
        }
    }

    /// <summary>Tokens the user may still spend today (the smaller of both budgets), or null with no budget.</summary>
    public async Task<long?> RemainingAsync(ChatUser user, CancellationToken cancellationToken = default)
    {
        var day = Today();
        long? remaining = null;
        var perUser = limits.Value.DailyTokensPerUser;
        if (perUser > 0)
        {
            remaining = perUser - await limiter.GetTokensUsedAsync(user.UserId, day, cancellationToken);
        }

        var perAddress = budgets.Value.PerAddress(environment.IsDevelopment());
        if (perAddress > 0 && user.Address is { } address)
        {
            var left = perAddress - await limiter.GetTokensUsedAsync(AddressPrefix + address, day, cancellationToken);
            remaining = remaining is { } r ? Math.Min(r, left) : left;
        }

        return remaining is { } value ? Math.Max(0, value) : null;
    }

    /// <summary>The sentence for a reply stopped because the budget ran out while it streamed.</summary>
    public string StoppedMessage() =>
        "the reply was stopped: the daily token budget ran out while it streamed (Chat:Limits:DailyTokensPerUser, Chat:Limits:DailyTokensPerAddress)";

    /// <summary>Counts what a reply cost (its input, output and its tools' model calls) against both budgets.</summary>
    public async Task ChargeAsync(ChatUser user, long tokens, CancellationToken cancellationToken = default)
    {
        if (tokens <= 0)
        {
            return;
        }

        var day = Today();
        await limiter.AddTokensUsedAsync(user.UserId, day, tokens, cancellationToken);
        if (user.Address is { } address)
        {
            await limiter.AddTokensUsedAsync(AddressPrefix + address, day, tokens, cancellationToken);
        }
    }

    private async Task<string?> ExhaustedAsync(ChatUser user, CancellationToken cancellationToken)
    {
        var day = Today();
        var perUser = limits.Value.DailyTokensPerUser;
        if (perUser > 0)
        {
            var used = await limiter.GetTokensUsedAsync(user.UserId, day, cancellationToken);
            if (used >= perUser)
            {
                return $"your replies used {used} of {perUser} model tokens today (Chat:Limits:DailyTokensPerUser)";
            }
        }

        var perAddress = budgets.Value.PerAddress(environment.IsDevelopment());
        if (perAddress > 0 && user.Address is { } address)
        {
            var used = await limiter.GetTokensUsedAsync(AddressPrefix + address, day, cancellationToken);
            if (used >= perAddress)
            {
                return $"guests from your network used {used} of {perAddress} model tokens today (Chat:Limits:DailyTokensPerAddress)";
            }
        }

        return null;
    }

    private DateOnly Today() => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
}
