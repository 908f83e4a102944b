namespace SignalRChat.Tests.Infrastructure;

/// <summary>
/// Settings that put a test server's record on one backend: an SQLite file in a temporary folder, a fresh
/// database on the class's PostgreSQL server, or memory. The same settings given to a second server reach the same data.
/// </summary>
public sealed class RecordBackends(PostgresFixture postgres) : IDisposable
{
    public const string Sqlite = "Sqlite";
    public const string Postgres = "Postgres";
    public const string Memory = "Memory";

    private readonly List<string> _folders = [];

    /// <summary>For theories: every backend.</summary>
    public static TheoryData<string> All => new() { Sqlite, Postgres, Memory };

    /// <summary>For theories about what survives a restart: the databases.</summary>
    public static TheoryData<string> Durable => new() { Sqlite, Postgres };

    public async Task<Dictionary<string, string?>> SettingsAsync(string backend) => backend switch
    {
        Sqlite => new() { ["Chat:Storage:Provider"] = "Sqlite", ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(NewFolder(), "chat.db")}" },
        Postgres => new() { ["Chat:Storage:Provider"] = "Postgres", ["ConnectionStrings:Postgres"] = await postgres.Server.CreateDatabaseAsync() },
        _ => new() { ["Chat:Storage:Provider"] = "Memory" },
    };

    private string NewFolder()
    {
        var folder = Directory.CreateTempSubdirectory("signalrchat-sqlite-").FullName;
        lock (_folders)
        {
            _folders.Add(folder);
        }

        return folder;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var folder in _folders)
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
