using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace SignalRChat.Server.Storage;

/// <summary>An SQLite file (WAL mode), by default <c>data/signalrchat.db</c> under the content root; its folder is created.</summary>
internal sealed class SqliteDatabase : SqlDatabase
{
    public const string SettingKey = "ConnectionStrings:Sqlite";
    public const string DefaultConnectionString = "Data Source=data/signalrchat.db";

    private readonly string _connectionString;
    private int _walSet;

    public SqliteDatabase(string? connectionString, string contentRoot)
    {
        var builder = new SqliteConnectionStringBuilder(string.IsNullOrWhiteSpace(connectionString) ? DefaultConnectionString : connectionString);
        if (string.IsNullOrWhiteSpace(builder.DataSource))
        {
            throw new ChatRecordUnavailableException($"{SettingKey} names no file (Data Source=...)");
        }

        builder.DataSource = Path.GetFullPath(builder.DataSource, contentRoot);
        FilePath = builder.DataSource;
        _connectionString = builder.ToString();
    }

    public string FilePath { get; }

    public override string Description => $"SQLite at {FilePath} ({SettingKey})";

    public override string MigrationsFolder => "Sqlite";

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _walSet) == 0 && Path.GetDirectoryName(FilePath) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }

        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            // WAL lets readers (history, room lists) go on while the writer writes; the mode stays with the file once set.
            command.CommandText = Interlocked.Exchange(ref _walSet, 1) == 0
                ? "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;"
                : "PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;";
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
