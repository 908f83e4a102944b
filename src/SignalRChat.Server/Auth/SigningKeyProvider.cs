using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace SignalRChat.Server.Auth;

/// <summary>
/// Resolves the token signing key once at start-up: the configured one, or in Development a
/// random one (tokens then do not survive a restart and no other node accepts them).
/// </summary>
internal sealed class SigningKeyProvider
{
    internal const int MinimumKeyBytes = 32;

    public SigningKeyProvider(IOptions<AuthOptions> options, IHostEnvironment environment, IConfiguration configuration, ILogger<SigningKeyProvider> logger)
    {
        var configured = options.Value.SigningKey;
        if (!string.IsNullOrEmpty(configured))
        {
            var bytes = Encoding.UTF8.GetBytes(configured);
            if (bytes.Length < MinimumKeyBytes)
            {
                throw new OptionsValidationException(AuthOptions.Section, typeof(AuthOptions),
                    [$"Chat:Auth:SigningKey must be at least {MinimumKeyBytes * 8} bits ({MinimumKeyBytes} bytes of UTF-8); the configured key has {bytes.Length} bytes."]);
            }

            Key = new SymmetricSecurityKey(bytes);
            return;
        }

        if (Redis.RedisExtensions.IsRedisConfigured(configuration))
        {
            throw new OptionsValidationException(AuthOptions.Section, typeof(AuthOptions),
                ["Chat:Auth:SigningKey is not set, and ConnectionStrings:Redis is: every node must share one signing key, or they reject each other's tokens. Set Chat:Auth:SigningKey (at least 32 bytes) on every node."]);
        }

        if (!environment.IsDevelopment())
        {
            throw new OptionsValidationException(AuthOptions.Section, typeof(AuthOptions),
                ["Chat:Auth:SigningKey is not set. Set it (at least 32 bytes, the same on every node), e.g. with the environment variable Chat__Auth__SigningKey."]);
        }

        Key = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(MinimumKeyBytes));
        AuthLog.GeneratedSigningKey(logger);
    }

    public SymmetricSecurityKey Key { get; }
}
