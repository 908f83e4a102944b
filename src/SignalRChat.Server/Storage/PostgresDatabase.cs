using System.Data.Common;
using Npgsql;

namespace SignalRChat.Server.Storage;

/// <summary>A PostgreSQL database (<c>ConnectionStrings:Postgres</c>), shared by several nodes.</summary>
internal sealed class PostgresDatabase : SqlDatabase, IAsyncDisposable
{
    public const string SettingKey = "ConnectionStrings:Postgres";

    private readonly NpgsqlDataSource _source;
    private readonly string _where;

    public PostgresDatabase(string connectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new ChatRecordUnavailableException($"{SettingKey} is not a valid Npgsql connection string: {ex.Message}", ex);
        }

        // Only where it is, never the password.
        _where = $"{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";
        _source = NpgsqlDataSource.Create(builder);
    }

    public override string Description => $"PostgreSQL at {_where} ({SettingKey})";

    public override string MigrationsFolder => "Postgres";

    public override string MigrationLock => "SELECT pg_advisory_xact_lock(7231500115)";

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) => await _source.OpenConnectionAsync(cancellationToken);

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
