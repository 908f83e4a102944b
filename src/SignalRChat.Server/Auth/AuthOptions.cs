namespace SignalRChat.Server.Auth;

/// <summary>Settings of section <c>Chat:Auth</c>.</summary>
public sealed class AuthOptions
{
    public const string Section = "Chat:Auth";

    /// <summary>HS256 key shared by every node; at least 32 bytes of UTF-8.</summary>
    public string? SigningKey { get; set; }

    /// <summary>Guest sign-in; when unset it is on in Development and off elsewhere.</summary>
    public bool? AllowGuests { get; set; }

    public string Issuer { get; set; } = "signalrchat";

    public string Audience { get; set; } = "signalrchat";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(12);
}
