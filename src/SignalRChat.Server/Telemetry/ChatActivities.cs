using System.Diagnostics;

namespace SignalRChat.Server.Telemetry;

/// <summary>The service's traces: one <c>generation</c> span per reply, with the model call and tool calls beneath it.</summary>
internal static class ChatActivities
{
    public const string SourceName = "SignalRChat";

    /// <summary>The activity source of SignalR hub invocations (ASP.NET Core 9 and later).</summary>
    public const string HubSourceName = "Microsoft.AspNetCore.SignalR.Server";

    public const string RoomIdTag = "signalrchat.room.id";
    public const string GenerationIdTag = "signalrchat.generation.id";
    public const string MessageIdTag = "signalrchat.message.id";
    public const string StateTag = "signalrchat.generation.state";
    public const string TokensTag = "signalrchat.generation.tokens";

    public static readonly ActivitySource Source = new(SourceName);
}
