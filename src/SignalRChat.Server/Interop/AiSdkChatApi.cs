using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Streaming;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Interop;

/// <summary>
/// The Vercel AI SDK's chat routes over rooms, as its stock <c>DefaultChatTransport</c> calls them:
/// <c>POST /api/ai-sdk/chat</c> (the chat id is the room id) answers the reply as a UI message
/// stream (v1), and <c>GET /api/ai-sdk/chat/{roomId}/stream</c> replays the room's running reply
/// from its start, then follows it (204 when none runs). Both are views of the room's event stream.
/// </summary>
internal static class AiSdkChatApi
{
    public const string Route = "/api/ai-sdk/chat";
    public const string SubmitMessage = "submit-message";
    public const string RegenerateMessage = "regenerate-message";

    private const string Expected = "the body DefaultChatTransport sends ({\"id\": the room id, \"messages\": [...], \"trigger\": \"submit-message\"})";

    public static IEndpointRouteBuilder MapAiSdkChat(this IEndpointRouteBuilder app)
    {
        var chat = app.MapGroup(Route).RequireAuthorization();
        chat.MapPost(string.Empty, PostAsync);
        chat.MapGet("/{roomId}/stream", ResumeAsync);
        return app;
    }

    // Both are streams like SSE and NDJSON: they count toward the client address's open streams.
    private static Task PostAsync(HttpContext http, RoomService rooms, CollaborationService collaboration, StreamAddressLimiter addresses, IOptions<StreamOptions> streams,
        IOptions<InteropOptions> interop, ChatMetrics metrics) =>
        RoomStreamsApi.WithStreamSlotAsync(http, addresses, streams.Value, () => PostCoreAsync(http, rooms, collaboration, streams, interop, metrics));

    private static Task ResumeAsync(string roomId, HttpContext http, RoomService rooms, StreamAddressLimiter addresses, IOptions<StreamOptions> streams, ChatMetrics metrics) =>
        RoomStreamsApi.WithStreamSlotAsync(http, addresses, streams.Value, () => ResumeCoreAsync(roomId, http, rooms, streams, metrics));

    private static async Task PostCoreAsync(HttpContext http, RoomService rooms, CollaborationService collaboration, IOptions<StreamOptions> streams, IOptions<InteropOptions> interop,
        ChatMetrics metrics)
    {
        var user = ChatUser.From(http.User);
        var aborted = http.RequestAborted;
        var watcher = new QueuedSubscriber("ai-sdk-" + Guid.NewGuid().ToString("N"), streams.Value.MaxQueuedEvents, metrics);
        string roomId;
        SendMessageResult sent;
        try
        {
            var body = await JsonBody.ReadObjectAsync(http.Request, interop.Value.MaxRequestBytes, Expected, aborted);
            roomId = JsonBody.OptionalString(body, "id", string.Empty)
                ?? throw new ChatRequestException(ChatRefusal.BadRequest, "id is required: the chat id is the room id");
            var trigger = JsonBody.OptionalString(body, "trigger", string.Empty) ?? SubmitMessage;
            var messages = JsonBody.RequiredArray(body, "messages", "the last user message of messages is what is posted to the room");
            sent = trigger switch
            {
                SubmitMessage => await rooms.SendFromHttpAsync(user, roomId, LastUserText(messages), watcher, aborted),
                // messageId names the reply to try again; without it, the room's latest reply.
                RegenerateMessage => await rooms.StartWatchedAsync(user, roomId, watcher, async () =>
                    await collaboration.RegenerateAsync(user, roomId,
                        JsonBody.OptionalString(body, "messageId", string.Empty) ?? await LatestReplyAsync(rooms, user, roomId, aborted), aborted)),
                _ => throw new ChatRequestException(ChatRefusal.BadRequest,
                    $"trigger must be \"{SubmitMessage}\" or \"{RegenerateMessage}\""),
            };
        }
        catch (ChatRequestException refusal)
        {
            await RoomStreamsApi.RefuseAsync(http, refusal);
            return;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return;
        }

        try
        {
            PrepareStream(http.Response);
            var writer = new SseWriter(http.Response.Body);
            if (sent.GenerationId is not { } generationId)
            {
                // The room's assistant answers only when mentioned, and this message did not mention it.
                UiMessageReplyView.NoReply(writer);
                await writer.FlushAsync(aborted);
                return;
            }

            // Aborting the request (useChat's stop()) stops the reply for the whole room, as Stop does.
            var view = new UiMessageReplyView(roomId, generationId);
            await RoomStreamsApi.StreamStartedReplyAsync(aborted, () => rooms.CancelAsync(user, generationId),
                () => ReplyPump.RunAsync(watcher, new ReplyPump.Reply(generationId, null), view, writer, streams.Value, aborted));
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
        }
        finally
        {
            await rooms.StopWatchingAsync(user, roomId, watcher);
        }
    }

    private static async Task<string> LatestReplyAsync(RoomService rooms, ChatUser user, string roomId, CancellationToken cancellationToken) =>
        (await rooms.PeekAsync(user, roomId, cancellationToken)).Messages.LastOrDefault(m => m.Role == MessageRoles.Assistant)?.MessageId
        ?? throw new ChatRequestException(ChatRefusal.BadRequest, "there is no reply in this room to regenerate");

    /// <summary>
    /// Replays the running reply from its first event (the log keeps it), so a client that lost
    /// the page builds the same message again with every delta once; when the log no longer
    /// reaches back that far, the message starts with the text the reply has reached. Closing this
    /// stream does not stop the reply: a page that reloads closes it too.
    /// </summary>
    private static async Task ResumeCoreAsync(string roomId, HttpContext http, RoomService rooms, IOptions<StreamOptions> streams, ChatMetrics metrics)
    {
        var user = ChatUser.From(http.User);
        var aborted = http.RequestAborted;
        ActiveGeneration? running;
        long? afterSeq = null;
        try
        {
            var now = await rooms.PeekAsync(user, roomId, aborted);
            running = now.ActiveGeneration;
            if (running is not null && now.Messages.FirstOrDefault(m => m.MessageId == running.MessageId) is { } started)
            {
                afterSeq = started.Seq - 1;
            }
        }
        catch (ChatRequestException refusal)
        {
            await RoomStreamsApi.RefuseAsync(http, refusal);
            return;
        }

        if (running is null)
        {
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var reader = new QueuedSubscriber("ai-sdk-resume-" + Guid.NewGuid().ToString("N"), streams.Value.MaxQueuedEvents, metrics);
        (string RoomId, RoomSnapshot? Snapshot) opened;
        try
        {
            opened = await rooms.OpenStreamAsync(user, reader, roomId, afterSeq);
        }
        catch (ChatRequestException refusal)
        {
            await RoomStreamsApi.RefuseAsync(http, refusal);
            return;
        }

        try
        {
            var view = new UiMessageReplyView(roomId, running.GenerationId);
            var writer = new SseWriter(http.Response.Body);
            if (opened.Snapshot is { } snapshot)
            {
                if (snapshot.ActiveGeneration is not { } active || active.GenerationId != running.GenerationId)
                {
                    // It ended between the two looks, before anything was sent.
                    http.Response.StatusCode = StatusCodes.Status204NoContent;
                    return;
                }

                PrepareStream(http.Response);
                view.StartFrom(snapshot.LastSeq, active, writer);
            }
            else
            {
                PrepareStream(http.Response);
            }

            await ReplyPump.RunAsync(reader, new ReplyPump.Reply(running.GenerationId, null), view, writer, streams.Value, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
        }
        finally
        {
            await rooms.CloseStreamAsync(user, reader, opened.RoomId);
        }
    }

    private static void PrepareStream(HttpResponse response)
    {
        RoomStreamsApi.PrepareStream(response, "text/event-stream");
        response.Headers[UiMessageChunk.StreamHeader] = UiMessageChunk.StreamVersion;
    }

    /// <summary>The text parts of the last user message (a UIMessage: <c>{id, role, parts: [{type: "text", text}, …]}</c>), joined.</summary>
    internal static string LastUserText(JsonElement messages)
    {
        JsonElement? last = null;
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw new ChatRequestException(ChatRefusal.BadRequest, $"messages[{index}] must be a UIMessage object ({{\"id\", \"role\", \"parts\"}})");
            }

            if (JsonBody.OptionalString(message, "role", $"messages[{index}].") == MessageRoles.User)
            {
                last = message;
            }

            index++;
        }

        if (last is not { } user)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "messages has no user message: the last user message is what is posted to the room");
        }

        if (!user.TryGetProperty("parts", out var parts) || parts.ValueKind != JsonValueKind.Array)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "the last user message has no parts array: a UIMessage carries its text as parts [{\"type\": \"text\", \"text\": …}]");
        }

        var text = new StringBuilder();
        var textParts = 0;
        foreach (var part in parts.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.Object && JsonBody.OptionalString(part, "type", "parts[].") == "text")
            {
                textParts++;
                text.Append(JsonBody.OptionalString(part, "text", "parts[].") ?? string.Empty);
            }
        }

        return textParts > 0 ? text.ToString() : throw new ChatRequestException(ChatRefusal.BadRequest, JsonBody.NoTextParts("parts"));
    }
}
