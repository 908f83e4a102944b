using System.Globalization;
using SignalRChat.Server.Auth;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Storage;

/// <summary>The HTTP twins of <c>ListRooms</c> and <c>GetHistory</c>: <c>GET /api/rooms</c> and <c>GET /api/rooms/{roomId}/messages?before=SEQ&amp;limit=N</c>.</summary>
internal static class RoomRecordApi
{
    public const int DefaultLimit = 50;

    public static IEndpointRouteBuilder MapRoomRecord(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/rooms", async (HttpContext http, RoomRecordService record) =>
            await AnswerAsync(http, () => record.ListRoomsAsync(ChatUser.From(http.User), http.RequestAborted))).RequireAuthorization();
        app.MapGet("/api/rooms/{roomId}/messages", async (string roomId, HttpContext http, RoomRecordService record) =>
        {
            if (!TryRead(http.Request.Query["before"], out var before) || !TryRead(http.Request.Query["limit"], out var limit))
            {
                return Refuse(new ChatRequestException(ChatRefusal.BadRequest, "before and limit must be whole numbers"));
            }

            return await AnswerAsync(http, () => record.GetHistoryAsync(ChatUser.From(http.User), roomId, before, (int?)(limit ?? DefaultLimit) , http.RequestAborted));
        }).RequireAuthorization();
        return app;
    }

    private static bool TryRead(Microsoft.Extensions.Primitives.StringValues value, out long? number)
    {
        number = null;
        if (value.Count == 0 || string.IsNullOrEmpty(value[0]))
        {
            return true;
        }

        if (long.TryParse(value[0], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed <= int.MaxValue)
        {
            number = parsed;
            return true;
        }

        return false;
    }

    private static async Task<IResult> AnswerAsync<T>(HttpContext http, Func<Task<T>> answer)
    {
        try
        {
            return Results.Json(await answer(), ChatJson.Options);
        }
        catch (ChatRequestException refusal)
        {
            return Refuse(refusal);
        }
    }

    private static IResult Refuse(ChatRequestException refusal) => Results.Json(new { error = refusal.Message }, ChatJson.Options, statusCode: (int)refusal.Refusal);
}
