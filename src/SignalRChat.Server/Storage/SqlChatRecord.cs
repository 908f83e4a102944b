using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using SignalRChat.Contracts;

namespace SignalRChat.Server.Storage;

/// <summary>
/// The record in an SQL database: SQLite or PostgreSQL, through the same statements (upserts with
/// <c>ON CONFLICT</c>, times as Unix milliseconds), so both behave alike.
/// </summary>
internal sealed class SqlChatRecord(SqlDatabase database, TimeProvider time) : IChatRecord, IAsyncDisposable
{
    private const string MessageColumns =
        "message_id, room_id, seq, author_id, author_name, role, text, state, created_at, usage, cancelled_by, regenerates, error";

    public string Description => database.Description;

    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await MigrationRunner.RunAsync(database, time, cancellationToken);
        }
        catch (ChatRecordUnavailableException)
        {
            throw;
        }
        catch (Exception ex) when (ex is DbException or IOException or UnauthorizedAccessException or TimeoutException or InvalidOperationException)
        {
            throw new ChatRecordUnavailableException($"{database.Description} could not be opened or migrated: {ex.Message}", ex);
        }
    }

    public async Task WriteAsync(IReadOnlyList<RecordWrite> writes, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var write in writes)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            Prepare(command, write);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static void Prepare(DbCommand command, RecordWrite write)
    {
        SqlParameters.Add(command, "room", write.RoomId);
        switch (write)
        {
            case RoomSaved room:
                command.CommandText = "INSERT INTO rooms (room_id, visibility, creator_id, created_at) VALUES (@room, @visibility, @creator, @at) " +
                    "ON CONFLICT (room_id) DO NOTHING";
                SqlParameters.Add(command, "visibility", room.Visibility);
                SqlParameters.Add(command, "creator", room.CreatorId);
                SqlParameters.Add(command, "at", room.CreatedAt.ToUnixTimeMilliseconds());
                break;
            case RoomSettingsSaved settings:
                command.CommandText = "UPDATE rooms SET settings = @settings WHERE room_id = @room";
                SqlParameters.Add(command, "settings", settings.Settings);
                break;
            case SeqReached reached:
                command.CommandText = "UPDATE rooms SET last_seq = @seq WHERE room_id = @room AND last_seq < @seq";
                SqlParameters.Add(command, "seq", reached.Seq);
                break;
            case InvitationSaved invitation:
                command.CommandText = "INSERT INTO invitations (room_id, user_id, invited_by, invited_at) VALUES (@room, @user, @by, @at) " +
                    "ON CONFLICT (room_id, user_id) DO NOTHING";
                SqlParameters.Add(command, "user", invitation.UserId);
                SqlParameters.Add(command, "by", invitation.InvitedBy);
                SqlParameters.Add(command, "at", invitation.At.ToUnixTimeMilliseconds());
                break;
            case MembershipSaved { Left: false } joined:
                command.CommandText = "INSERT INTO memberships (room_id, user_id, name, joined_at) VALUES (@room, @user, @name, @at) " +
                    "ON CONFLICT (room_id, user_id) DO UPDATE SET name = excluded.name, left_at = NULL, " +
                    "joined_at = CASE WHEN memberships.left_at IS NULL THEN memberships.joined_at ELSE excluded.joined_at END";
                SqlParameters.Add(command, "user", joined.UserId);
                SqlParameters.Add(command, "name", joined.Name);
                SqlParameters.Add(command, "at", joined.At.ToUnixTimeMilliseconds());
                break;
            case MembershipSaved left:
                command.CommandText = "UPDATE memberships SET left_at = @at WHERE room_id = @room AND user_id = @user";
                SqlParameters.Add(command, "user", left.UserId);
                SqlParameters.Add(command, "at", left.At.ToUnixTimeMilliseconds());
                break;
            case ReadMarked read:
                command.CommandText = "UPDATE memberships SET read_seq = @seq WHERE room_id = @room AND user_id = @user AND read_seq < @seq";
                SqlParameters.Add(command, "user", read.UserId);
                SqlParameters.Add(command, "seq", read.Seq);
                break;
            case MessageSaved { Message: var m }:
                command.CommandText = $"INSERT INTO messages ({MessageColumns}) " +
                    "VALUES (@id, @room, @seq, @author, @authorName, @role, @text, @state, @at, @usage, @cancelledBy, @regenerates, @error) " +
                    "ON CONFLICT (message_id) DO UPDATE SET text = excluded.text, state = excluded.state, usage = excluded.usage, " +
                    "cancelled_by = excluded.cancelled_by, error = excluded.error WHERE messages.state = @generating";
                SqlParameters.Add(command, "id", m.MessageId);
                SqlParameters.Add(command, "seq", m.Seq);
                SqlParameters.Add(command, "author", m.AuthorId);
                SqlParameters.Add(command, "authorName", m.AuthorName);
                SqlParameters.Add(command, "role", m.Role);
                SqlParameters.Add(command, "text", m.Text);
                SqlParameters.Add(command, "state", m.State);
                SqlParameters.Add(command, "at", m.CreatedAt.ToUnixTimeMilliseconds());
                SqlParameters.Add(command, "usage", m.Usage is null ? null : JsonSerializer.Serialize(m.Usage, ChatJson.Options));
                SqlParameters.Add(command, "cancelledBy", m.CancelledBy is null ? null : JsonSerializer.Serialize(m.CancelledBy, ChatJson.Options));
                SqlParameters.Add(command, "regenerates", m.Regenerates);
                SqlParameters.Add(command, "error", m.Error);
                // A message that ended keeps its end: a late checkpoint, or the end a cut-off node writes after another failed its reply, changes nothing.
                SqlParameters.Add(command, "generating", MessageStates.Generating);
                break;
            default:
                throw new InvalidOperationException($"unknown record write {write.GetType().Name}");
        }
    }

    public async Task<StoredRoom?> FindRoomAsync(string roomId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        string visibility;
        string? creator;
        long created;
        string? settings;
        long lastSeq;
        await using (var command = Command(connection,
            "SELECT visibility, creator_id, created_at, settings, last_seq, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room_id = @room) " +
            "FROM rooms WHERE room_id = @room"))
        {
            SqlParameters.Add(command, "room", roomId);
            await using var row = await command.ExecuteReaderAsync(cancellationToken);
            if (!await row.ReadAsync(cancellationToken))
            {
                return null;
            }

            visibility = row.GetString(0);
            creator = row.IsDBNull(1) ? null : row.GetString(1);
            created = row.GetInt64(2);
            settings = row.IsDBNull(3) ? null : row.GetString(3);
            lastSeq = Math.Max(row.GetInt64(4), row.GetInt64(5));
        }

        var invited = new List<string>();
        await using (var command = Command(connection, "SELECT user_id FROM invitations WHERE room_id = @room ORDER BY invited_at, user_id"))
        {
            SqlParameters.Add(command, "room", roomId);
            await using var row = await command.ExecuteReaderAsync(cancellationToken);
            while (await row.ReadAsync(cancellationToken))
            {
                invited.Add(row.GetString(0));
            }
        }

        var members = new List<StoredMember>();
        await using (var command = Command(connection, "SELECT user_id, name, left_at, read_seq FROM memberships WHERE room_id = @room ORDER BY joined_at, user_id"))
        {
            SqlParameters.Add(command, "room", roomId);
            await using var row = await command.ExecuteReaderAsync(cancellationToken);
            while (await row.ReadAsync(cancellationToken))
            {
                members.Add(new StoredMember(row.GetString(0), row.GetString(1), !row.IsDBNull(2), row.GetInt64(3)));
            }
        }

        return new StoredRoom(roomId, visibility, creator, DateTimeOffset.FromUnixTimeMilliseconds(created), settings, lastSeq, invited, members);
    }

    public async Task<MessagePage> GetMessagesAsync(string roomId, long? beforeSeq, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection,
            $"SELECT {MessageColumns} FROM messages WHERE room_id = @room AND seq < @before ORDER BY seq DESC LIMIT @limit");
        SqlParameters.Add(command, "room", roomId);
        SqlParameters.Add(command, "before", beforeSeq is > 0 ? beforeSeq.Value : long.MaxValue);
        SqlParameters.Add(command, "limit", limit + 1L);
        var messages = new List<StoredMessage>(limit + 1);
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await row.ReadAsync(cancellationToken))
            {
                messages.Add(ReadMessage(row, 0));
            }
        }

        var hasMore = messages.Count > limit;
        if (hasMore)
        {
            messages.RemoveAt(messages.Count - 1);
        }

        messages.Reverse();
        return new MessagePage(messages, hasMore);
    }

    public async Task<IReadOnlyList<RoomListing>> ListRoomsAsync(string userId, CancellationToken cancellationToken)
    {
        // One row a room: its newest message found by seq (its text cut to the preview's length), the caller's read mark, and the messages of others after it.
        const string sql = $"""
            SELECT r.room_id, r.visibility, r.created_at, r.last_seq,
                   (SELECT COUNT(*) FROM memberships c WHERE c.room_id = r.room_id AND c.left_at IS NULL),
                   COALESCE(me.read_seq, 0),
                   (SELECT COUNT(*) FROM messages u WHERE u.room_id = r.room_id AND u.seq > COALESCE(me.read_seq, 0) AND u.author_id <> @user),
                   {LastMessageColumns}
            FROM rooms r
            LEFT JOIN memberships me ON me.room_id = r.room_id AND me.user_id = @user
            LEFT JOIN messages l ON l.message_id = (SELECT x.message_id FROM messages x WHERE x.room_id = r.room_id ORDER BY x.seq DESC LIMIT 1)
            WHERE (me.user_id IS NOT NULL AND me.left_at IS NULL)
               OR r.creator_id = @user
               OR EXISTS (SELECT 1 FROM invitations i WHERE i.room_id = r.room_id AND i.user_id = @user)
            """;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, sql);
        SqlParameters.Add(command, "user", userId);
        var rooms = new List<RoomListing>();
        await using (var row = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await row.ReadAsync(cancellationToken))
            {
                var last = row.IsDBNull(7) ? null : ReadMessage(row, 7);
                var created = DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(2));
                rooms.Add(new RoomListing(row.GetString(0), row.GetString(1), last?.CreatedAt ?? created, last,
                    Convert.ToInt32(row.GetValue(4), CultureInfo.InvariantCulture), Math.Max(row.GetInt64(3), last?.Seq ?? 0), row.GetInt64(5),
                    Convert.ToInt32(row.GetValue(6), CultureInfo.InvariantCulture)));
            }
        }

        return rooms.OrderByDescending(r => r.LastActivity).ThenBy(r => r.RoomId, StringComparer.Ordinal).ToList();
    }

    public async Task<int> CountPendingInvitationsAsync(string userId, string exceptRoomId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT COUNT(*) FROM invitations i
            WHERE i.user_id = @user AND i.room_id <> @room
              AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = i.room_id AND m.user_id = i.user_id)
            """;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, sql);
        SqlParameters.Add(command, "user", userId);
        SqlParameters.Add(command, "room", exceptRoomId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    public async Task<IReadOnlyList<(string UserId, int Unread)>> GetUnreadAsync(string roomId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT p.user_id,
                   (SELECT COUNT(*) FROM messages x WHERE x.room_id = @room AND x.seq > COALESCE(m.read_seq, 0) AND x.author_id <> p.user_id)
            FROM (SELECT user_id FROM memberships WHERE room_id = @room AND left_at IS NULL
                  UNION SELECT user_id FROM invitations WHERE room_id = @room
                  UNION SELECT creator_id FROM rooms WHERE room_id = @room AND creator_id IS NOT NULL) p
            LEFT JOIN memberships m ON m.room_id = @room AND m.user_id = p.user_id
            """;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, sql);
        SqlParameters.Add(command, "room", roomId);
        var people = new List<(string, int)>();
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        while (await row.ReadAsync(cancellationToken))
        {
            people.Add((row.GetString(0), Convert.ToInt32(row.GetValue(1), CultureInfo.InvariantCulture)));
        }

        return people;
    }

    private const string LastMessageColumns =
        "l.message_id, l.room_id, l.seq, l.author_id, l.author_name, l.role, substr(l.text, 1, 200), l.state, l.created_at, l.usage, l.cancelled_by, l.regenerates, l.error";

    public async Task<int> FailInterruptedAsync(string error, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, "UPDATE messages SET state = @failed, error = @error WHERE state = @generating");
        SqlParameters.Add(command, "failed", MessageStates.Failed);
        SqlParameters.Add(command, "error", error);
        SqlParameters.Add(command, "generating", MessageStates.Generating);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<int> RemoveMessagesBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, "DELETE FROM messages WHERE created_at < @cutoff AND state <> @generating");
        SqlParameters.Add(command, "cutoff", cutoff.ToUnixTimeMilliseconds());
        SqlParameters.Add(command, "generating", MessageStates.Generating);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static StoredMessage ReadMessage(DbDataReader row, int at) => new(
        row.GetString(at),
        row.GetString(at + 1),
        row.GetInt64(at + 2),
        row.GetString(at + 3),
        row.GetString(at + 4),
        row.GetString(at + 5),
        row.GetString(at + 6),
        row.GetString(at + 7),
        DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(at + 8)),
        row.IsDBNull(at + 9) ? null : JsonSerializer.Deserialize<UsageInfo>(row.GetString(at + 9), ChatJson.Options),
        row.IsDBNull(at + 10) ? null : JsonSerializer.Deserialize<RoomMember>(row.GetString(at + 10), ChatJson.Options),
        row.IsDBNull(at + 11) ? null : row.GetString(at + 11),
        row.IsDBNull(at + 12) ? null : row.GetString(at + 12));

    private static DbCommand Command(DbConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    public ValueTask DisposeAsync() => database is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}
