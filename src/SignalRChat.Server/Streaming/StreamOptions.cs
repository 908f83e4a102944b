namespace SignalRChat.Server.Streaming;

/// <summary>Settings of section <c>Chat:Streams</c>: the plain HTTP streams (SSE and NDJSON).</summary>
public sealed class StreamOptions
{
    public const string Section = "Chat:Streams";

    /// <summary>A comment line is sent when nothing else was for this long, so proxies keep the stream open.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The SSE <c>retry:</c> hint: how long an EventSource waits before reconnecting.</summary>
    public int RetryMs { get; set; } = 2000;

    /// <summary>Events that may wait for a slow HTTP reader before its stream is ended (it resumes with Last-Event-ID).</summary>
    public int MaxQueuedEvents { get; set; } = 5000;

    /// <summary>Streams one client address may hold open at once: SSE, NDJSON, AG-UI runs and AI SDK chats and resumes.</summary>
    public int MaxPerAddress { get; set; } = 20;
}
