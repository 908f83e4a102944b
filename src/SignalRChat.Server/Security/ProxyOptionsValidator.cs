using Microsoft.Extensions.Options;

namespace SignalRChat.Server.Security;

/// <summary>Names the first proxy entry that does not parse, with its key.</summary>
internal sealed class ProxyOptionsValidator : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions options) =>
        options.FirstInvalid() is { } error ? ValidateOptionsResult.Fail(error) : ValidateOptionsResult.Success;
}
