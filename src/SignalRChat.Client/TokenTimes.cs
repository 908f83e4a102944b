using System.Text;
using System.Text.Json;

namespace SignalRChat.Client;

/// <summary>The <c>iat</c> and <c>exp</c> of a JWT, read without validating it (the server does that).</summary>
internal readonly record struct TokenTimes(DateTimeOffset IssuedAt, DateTimeOffset Expires)
{
    public static TokenTimes? Read(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
            using var json = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
            if (!json.RootElement.TryGetProperty("exp", out var exp) || !exp.TryGetInt64(out var expires))
            {
                return null;
            }

            var issued = json.RootElement.TryGetProperty("iat", out var iat) && iat.TryGetInt64(out var at) ? at : expires - 300;
            return issued < expires ? new TokenTimes(DateTimeOffset.FromUnixTimeSeconds(issued), DateTimeOffset.FromUnixTimeSeconds(expires)) : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }
}
