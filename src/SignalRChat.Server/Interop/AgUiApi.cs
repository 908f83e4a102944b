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
/// <c>POST /api/rooms/{roomId}/agui</c>: an AG-UI agent endpoint over a room. The run's input
/// posts its last user message to the room; the answer is that message's reply as AG-UI events
/// (SSE), a view of the room's event stream as the NDJSON POST is. Aborting the request stops the
/// reply for the whole room.
/// </summary>
internal static class AgUiApi
{
    private const string Expected = "an AG-UI RunAgentInput ({\"threadId\": the room id, \"messages\": [...]})";

    public static IEndpointRouteBuilder MapAgUi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/rooms/{roomId}/agui", RunAsync).RequireAuthorization();
        return app;
    }

    // A run is a stream like SSE and NDJSON: it counts toward the client address's open streams.
    private static Task RunAsync(string roomId, HttpContext http, RoomService rooms, StreamAddressLimiter addresses, IOptions<StreamOptions> streams,
        IOptions<InteropOptions> interop, ChatMetrics metrics) =>
        RoomStreamsApi.WithStreamSlotAsync(http, addresses, streams.Value, () => RunCoreAsync(roomId, http, rooms, streams, interop, metrics));

    private static async Task RunCoreAsync(string roomId, HttpContext http, RoomService rooms, IOptions<StreamOptions> streams, IOptions<InteropOptions> interop, ChatMetrics metrics)
    {
        var user = ChatUser.From(http.User);
        var aborted = http.RequestAborted;
        var watcher = new QueuedSubscriber("agui-" + Guid.NewGuid().ToString("N"), streams.Value.MaxQueuedEvents, metrics);
        SendMessageResult sent;
        try
        {
            var input = await JsonBody.ReadObjectAsync(http.Request, interop.Value.MaxRequestBytes, Expected, aborted);
            var text = LastUserText(input, roomId);
            sent = await rooms.SendFromHttpAsync(user, roomId, text, watcher, aborted);
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
            RoomStreamsApi.PrepareStream(http.Response, "text/event-stream");
            var writer = new SseWriter(http.Response.Body);
            if (sent.GenerationId is not { } generationId)
            {
                // The room's assistant answers only when mentioned, and this message did not mention it.
                AgUiReplyView.NoReply(roomId, sent.MessageId, writer);
                await writer.FlushAsync(aborted);
                return;
            }

            // Aborting the request stops the reply for the whole room, as Stop does.
            var view = new AgUiReplyView(roomId, generationId);
            await RoomStreamsApi.StreamStartedReplyAsync(aborted, () => rooms.CancelAsync(user, generationId),
                () => ReplyPump.RunAsync(watcher, new ReplyPump.Reply(generationId, sent.MessageId), view, writer, streams.Value, aborted));
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
        }
        finally
        {
            await rooms.StopWatchingAsync(user, roomId, watcher);
        }
    }

    /// <summary>
    /// The text of the input's last <c>user</c> message: its <c>content</c> string, or the text
    /// parts of a content array joined. The rest of the input (the client's copy of the
    /// conversation, its tools, state and context) is not used: the room holds the conversation.
    /// </summary>
    internal static string LastUserText(JsonElement input, string roomId)
    {
        var threadId = JsonBody.OptionalString(input, "threadId", string.Empty);
        if (threadId is not null && threadId != roomId)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest,
                $"threadId '{Shorten(threadId)}' is not this room: an AG-UI thread is a room, so threadId must be '{roomId}' (or left out)");
        }

        var messages = JsonBody.RequiredArray(input, "messages", "the last user message of messages is what is posted to the room");
        JsonElement? last = null;
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw new ChatRequestException(ChatRefusal.BadRequest, $"messages[{index}] must be a message object ({{\"id\", \"role\", \"content\"}})");
            }

            var role = JsonBody.OptionalString(message, "role", $"messages[{index}].");
            if (role is null)
            {
                throw new ChatRequestException(ChatRefusal.BadRequest, $"messages[{index}].role is required");
            }

            if (role == MessageRoles.User)
            {
                last = message;
            }

            index++;
        }

        if (last is not { } user)
        {
            throw new ChatRequestException(ChatRefusal.BadRequest, "messages has no user message: the last user message is what is posted to the room");
        }

        var content = user.TryGetProperty("content", out var c) ? c : default;
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!;
            case JsonValueKind.Array:
                var text = new StringBuilder();
                var textParts = 0;
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.Object && JsonBody.OptionalString(part, "type", "content[].") == "text")
                    {
                        textParts++;
                        text.Append(JsonBody.OptionalString(part, "text", "content[].") ?? string.Empty);
                    }
                }

                return textParts > 0
                    ? text.ToString()
                    : throw new ChatRequestException(ChatRefusal.BadRequest, JsonBody.NoTextParts("content"));
            default:
                throw new ChatRequestException(ChatRefusal.BadRequest, "the last user message's content must be a string or an array of content parts");
        }
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
