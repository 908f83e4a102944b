using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Security;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Streaming;

/// <summary>
/// The same rooms and events for clients that do not speak SignalR:
/// <c>GET /api/rooms/{roomId}/events</c> (Server-Sent Events) and
/// <c>POST /api/rooms/{roomId}/messages</c> (JSON, or the reply as NDJSON).
/// </summary>
internal static class RoomStreamsApi
{
    public const string NdjsonMediaType = "application/x-ndjson";
    private const string SnapshotEvent = "snapshot";

    internal static readonly byte[] KeepAliveComment = ": keep-alive\n\n"u8.ToArray();

    public sealed record MessageRequest(string? Text);

    public static IEndpointRouteBuilder MapRoomStreams(this IEndpointRouteBuilder app)
    {
        var rooms = app.MapGroup("/api/rooms/{roomId}").RequireAuthorization().WithSmallBodies();
        rooms.MapGet("/events", StreamEventsAsync);
        rooms.MapPost("/messages", PostMessageAsync);
        return app;
    }

    private static async Task StreamEventsAsync(string roomId, HttpContext http, RoomService rooms, StreamAddressLimiter addresses, IOptions<StreamOptions> options,
        ChatMetrics metrics)
    {
        var settings = options.Value;
        if (!TryReadLastEventId(http.Request, out var lastEventId))
        {
            await RefuseAsync(http, new ChatRequestException(ChatRefusal.BadRequest, "Last-Event-ID must be a seq: a whole number, 0 or more"));
            return;
        }

        var address = StreamAddressLimiter.KeyOf(http.Connection.RemoteIpAddress);
        if (!addresses.TryOpen(address, settings.MaxPerAddress))
        {
            await RefuseAsync(http, TooManyStreams(settings));
            return;
        }

        try
        {
            await StreamRoomEventsAsync(roomId, http, rooms, settings, lastEventId, metrics);
        }
        finally
        {
            addresses.Close(address);
        }
    }

    private static ChatRequestException TooManyStreams(StreamOptions settings) => new(ChatRefusal.TooManyRequests,
        $"stream limit: {settings.MaxPerAddress} open streams per client address (Chat:Streams:MaxPerAddress); close one first");

    /// <summary>
    /// Runs a stream that counts toward <c>Chat:Streams:MaxPerAddress</c> for the client's address
    /// (the AG-UI and AI SDK streams, as SSE and NDJSON), or refuses it with 429 when that many are open.
    /// </summary>
    /// <summary>
    /// Streams a reply that this request started; when the request goes away, the reply is stopped for the whole room,
    /// as Stop does. Kestrel signals <c>RequestAborted</c> from the thread pool, so a write to the gone client may fail
    /// (and end the stream) before the token is cancelled: a stream that ends with any exception stops the reply too.
    /// </summary>
    internal static async Task StreamStartedReplyAsync(CancellationToken aborted, Func<Task> stop, Func<Task> stream)
    {
        await using var stopOnAbort = aborted.Register(() => _ = stop());
        try
        {
            await stream();
        }
        catch
        {
            _ = stop();
            throw;
        }
    }

    internal static async Task WithStreamSlotAsync(HttpContext http, StreamAddressLimiter addresses, StreamOptions settings, Func<Task> stream)
    {
        var address = StreamAddressLimiter.KeyOf(http.Connection.RemoteIpAddress);
        if (!addresses.TryOpen(address, settings.MaxPerAddress))
        {
            await RefuseAsync(http, TooManyStreams(settings));
            return;
        }

        try
        {
            await stream();
        }
        finally
        {
            addresses.Close(address);
        }
    }

    private static async Task StreamRoomEventsAsync(string roomId, HttpContext http, RoomService rooms, StreamOptions settings, long? lastEventId, ChatMetrics metrics)
    {
        var user = ChatUser.From(http.User);

        var reader = new QueuedSubscriber("sse-" + Guid.NewGuid().ToString("N"), settings.MaxQueuedEvents, metrics);
        (string RoomId, RoomSnapshot? Snapshot) opened;
        try
        {
            opened = await rooms.OpenStreamAsync(user, reader, roomId, lastEventId);
        }
        catch (ChatRequestException refusal)
        {
            await RefuseAsync(http, refusal);
            return;
        }

        var aborted = http.RequestAborted;
        try
        {
            PrepareStream(http.Response, "text/event-stream");
            var body = http.Response.Body;
            await body.WriteAsync(Encoding.UTF8.GetBytes($"retry: {settings.RetryMs}\n\n"), aborted);
            if (opened.Snapshot is { } snapshot)
            {
                await WriteSseAsync(body, snapshot.LastSeq, SnapshotEvent, ChatJson.Serialize(snapshot), aborted);
            }

            await body.FlushAsync(aborted);
            while (!aborted.IsCancellationRequested)
            {
                var (result, next) = await reader.ReadAsync(settings.KeepAlive, aborted);
                if (result == QueuedRead.Overflowed)
                {
                    // The reader fell too far behind: end the stream; EventSource comes back with Last-Event-ID.
                    break;
                }

                if (result == QueuedRead.Idle)
                {
                    await body.WriteAsync(KeepAliveComment, aborted);
                }
                else
                {
                    await WriteSseAsync(body, next!.Event.Seq, next.Event.Kind, next.Json, aborted);
                    if (reader.HasMore)
                    {
                        continue;
                    }
                }

                await body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
        }
        finally
        {
            await rooms.CloseStreamAsync(user, reader, opened.RoomId);
        }
    }

    private static async Task PostMessageAsync(string roomId, MessageRequest? request, HttpContext http, RoomService rooms, StreamAddressLimiter addresses,
        IOptions<StreamOptions> options, ChatMetrics metrics)
    {
        var streaming = http.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals(NdjsonMediaType, StringComparison.OrdinalIgnoreCase));
        if (!streaming)
        {
            await PostMessageCoreAsync(roomId, request, http, rooms, options, metrics, streaming);
            return;
        }

        var address = StreamAddressLimiter.KeyOf(http.Connection.RemoteIpAddress);
        if (!addresses.TryOpen(address, options.Value.MaxPerAddress))
        {
            await RefuseAsync(http, TooManyStreams(options.Value));
            return;
        }

        try
        {
            await PostMessageCoreAsync(roomId, request, http, rooms, options, metrics, streaming);
        }
        finally
        {
            addresses.Close(address);
        }
    }

    private static async Task PostMessageCoreAsync(string roomId, MessageRequest? request, HttpContext http, RoomService rooms, IOptions<StreamOptions> options,
        ChatMetrics metrics, bool streaming)
    {
        var user = ChatUser.From(http.User);
        var watcher = streaming ? new QueuedSubscriber("ndjson-" + Guid.NewGuid().ToString("N"), options.Value.MaxQueuedEvents, metrics) : null;
        SendMessageResult sent;
        try
        {
            sent = await rooms.SendFromHttpAsync(user, roomId, request?.Text, watcher, http.RequestAborted);
        }
        catch (ChatRequestException refusal)
        {
            await RefuseAsync(http, refusal);
            return;
        }

        if (watcher is null)
        {
            http.Response.StatusCode = StatusCodes.Status202Accepted;
            await http.Response.WriteAsJsonAsync(sent, ChatJson.Options);
            return;
        }

        // Aborting the request stops the reply for the whole room, as Stop does.
        try
        {
            await StreamStartedReplyAsync(http.RequestAborted, () => rooms.CancelAsync(user, sent.GenerationId), () => StreamReplyAsync(http, watcher, sent, options.Value));
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
        }
        finally
        {
            await rooms.StopWatchingAsync(user, roomId, watcher);
        }
    }

    private static async Task StreamReplyAsync(HttpContext http, QueuedSubscriber watcher, SendMessageResult sent, StreamOptions settings)
    {
        var aborted = http.RequestAborted;
        PrepareStream(http.Response, NdjsonMediaType);
        var body = http.Response.Body;
        await WriteNdjsonAsync(body, "accepted", ChatJson.Serialize(sent), aborted);
        await body.FlushAsync(aborted);

        string? assistantMessageId = null;
        OutgoingEvent? heldAssistantMessage = null;
        while (true)
        {
            var (result, next) = await watcher.ReadAsync(settings.KeepAlive, aborted);
            if (result == QueuedRead.Overflowed)
            {
                await WriteNdjsonAsync(body, "error", ChatJson.Serialize(new { error = "the reader fell too far behind; the reply goes on in the room" }), aborted);
                break;
            }

            if (result == QueuedRead.Idle)
            {
                await body.WriteAsync("\n"u8.ToArray(), aborted);
                await body.FlushAsync(aborted);
                continue;
            }

            var roomEvent = next!.Event;
            switch (roomEvent)
            {
                case MessageEvent { Message.MessageId: var id } when id == sent.MessageId:
                    await WriteNdjsonAsync(body, roomEvent.Kind, next.Json, aborted);
                    break;
                case MessageEvent { Message.Role: MessageRoles.Assistant }:
                    // Whose reply this is shows in the status that follows it.
                    heldAssistantMessage = next;
                    continue;
                case StatusEvent status when status.GenerationId == sent.GenerationId:
                    if (assistantMessageId is null && status.MessageId is not null)
                    {
                        assistantMessageId = status.MessageId;
                        if (heldAssistantMessage?.Event is MessageEvent held && held.Message.MessageId == assistantMessageId)
                        {
                            await WriteNdjsonAsync(body, held.Kind, heldAssistantMessage.Json, aborted);
                        }
                    }

                    await WriteNdjsonAsync(body, roomEvent.Kind, next.Json, aborted);
                    if (status.IsFinal)
                    {
                        await body.FlushAsync(aborted);
                        return;
                    }

                    break;
                case TokenEvent token when token.GenerationId == sent.GenerationId:
                case ToolProgressEvent progress when progress.GenerationId == sent.GenerationId:
                    await WriteNdjsonAsync(body, roomEvent.Kind, next.Json, aborted);
                    break;
                default:
                    continue;
            }

            if (!watcher.HasMore)
            {
                await body.FlushAsync(aborted);
            }
        }
    }

    internal static void PrepareStream(HttpResponse response, string contentType)
    {
        response.ContentType = contentType + "; charset=utf-8";
        response.Headers.CacheControl = "no-cache, no-transform";
        // Proxies such as nginx would otherwise buffer the stream.
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    private static async Task WriteSseAsync(Stream body, long seq, string kind, byte[] json, CancellationToken cancellationToken)
    {
        await body.WriteAsync(Encoding.UTF8.GetBytes($"id: {seq}\nevent: {kind}\ndata: "), cancellationToken);
        await body.WriteAsync(json, cancellationToken);
        await body.WriteAsync("\n\n"u8.ToArray(), cancellationToken);
    }

    private static async Task WriteNdjsonAsync(Stream body, string kind, byte[] json, CancellationToken cancellationToken)
    {
        await body.WriteAsync(Encoding.UTF8.GetBytes($"{{\"event\":\"{kind}\",\"data\":"), cancellationToken);
        await body.WriteAsync(json, cancellationToken);
        await body.WriteAsync("}\n"u8.ToArray(), cancellationToken);
    }

    private static bool TryReadLastEventId(HttpRequest request, out long? lastEventId)
    {
        lastEventId = null;
        string? raw = request.Headers["Last-Event-ID"];
        if (string.IsNullOrEmpty(raw))
        {
            raw = request.Query["lastEventId"];
        }

        if (string.IsNullOrEmpty(raw))
        {
            return true;
        }

        if (long.TryParse(raw, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq))
        {
            lastEventId = seq;
            return true;
        }

        return false;
    }

    internal static Task RefuseAsync(HttpContext http, ChatRequestException refusal)
    {
        http.Response.StatusCode = (int)refusal.Refusal;
        return http.Response.WriteAsJsonAsync(new { error = refusal.Message }, ChatJson.Options);
    }
}
