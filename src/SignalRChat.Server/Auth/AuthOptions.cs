namespace SignalRChat.Server.Auth;

/// <summary>Settings of section <c>Chat:Auth</c>.</summary>
public sealed class AuthOptions
{
    public const string Section = "Chat:Auth";

    /// <summary>HS256 key shared by every node; at least 32 bytes of UTF-8.</summary>
    public string? SigningKey { get; set; }

    /// <summary>Guest sign-in; when unset it is on in Development and off elsewhere.</summary>
    public bool? AllowGuests { get; set; }

    /// <summary>The issuer of this service's own tokens.</summary>
    public string Issuer { get; set; } = "signalrchat";

    /// <summary>The audience every accepted token must name: this service's own tokens and those of <see cref="Authority"/>.</summary>
    public string Audience { get; set; } = "signalrchat";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>How long a chain of refreshed tokens may last from its guest sign-in; after it, sign in again.</summary>
    public TimeSpan MaxSessionAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Token refreshes one user may make an hour (a client refreshes once per three quarters of <see cref="TokenLifetime"/>).</summary>
    public int RefreshesPerHour { get; set; } = 60;

    /// <summary>How long a single-use ticket for the query string (<c>POST /api/auth/ticket</c>) is valid.</summary>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tickets one user may get a minute (<c>POST /api/auth/ticket</c>): one per connect and reconnect of a page.</summary>
    public int TicketsPerMinute { get; set; } = 60;

    /// <summary>How far a token's lifetime may be off because clocks differ.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// An external OpenID Connect / JWT bearer issuer (e.g. https://login.example.com/realms/chat) whose
    /// tokens are accepted next to this service's own; its signing keys come from its discovery document.
    /// </summary>
    public string? Authority { get; set; }

    /// <summary>Whether <see cref="Authority"/> has to be https; only a loopback test issuer should switch this off.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;
}
