using System.Data.Common;
using System.Globalization;
using System.Reflection;

namespace SignalRChat.Server.Storage;

/// <summary>
/// Brings a database's schema to the newest version: the files of <c>Storage/Migrations/&lt;database&gt;</c>
/// (embedded, named <c>NNNN_what.sql</c>) newer than the version in <c>schema_version</c> run in order, in one transaction.
/// </summary>
internal static class MigrationRunner
{
    private const string ResourcePrefix = "SignalRChat.Storage.Migrations.";

    public sealed record Migration(int Version, string Name, string Sql);

    public static IReadOnlyList<Migration> Load(string folder)
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var prefix = ResourcePrefix + folder + "/";
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var name = resource[prefix.Length..];
            var version = int.Parse(name[..name.IndexOf('_', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
            migrations.Add(new Migration(version, Path.GetFileNameWithoutExtension(name), reader.ReadToEnd()));
        }

        return migrations.OrderBy(m => m.Version).ToList();
    }

    /// <summary>Applies what is missing; returns the versions applied.</summary>
    public static async Task<IReadOnlyList<int>> RunAsync(SqlDatabase database, TimeProvider time, CancellationToken cancellationToken)
    {
        var migrations = Load(database.MigrationsFolder);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (database.MigrationLock is { } lockSql)
        {
            await ExecuteAsync(connection, transaction, lockSql, cancellationToken);
        }

        await ExecuteAsync(connection, transaction,
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)", cancellationToken);
        long current;
        await using (var read = Command(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_version"))
        {
            current = Convert.ToInt64(await read.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }

        var newest = migrations.Count == 0 ? 0 : migrations[^1].Version;
        if (current > newest)
        {
            throw new ChatRecordUnavailableException(
                $"{database.Description} has schema version {current}, newer than this server knows ({newest}): run a newer server, or point it at another database");
        }

        var applied = new List<int>();
        foreach (var migration in migrations.Where(m => m.Version > current))
        {
            await ExecuteAsync(connection, transaction, migration.Sql, cancellationToken);
            await using var record = Command(connection, transaction, "INSERT INTO schema_version (version, name, applied_at) VALUES (@version, @name, @at)");
            SqlParameters.Add(record, "version", migration.Version);
            SqlParameters.Add(record, "name", migration.Name);
            SqlParameters.Add(record, "at", time.GetUtcNow().ToUnixTimeMilliseconds());
            await record.ExecuteNonQueryAsync(cancellationToken);
            applied.Add(migration.Version);
        }

        await transaction.CommitAsync(cancellationToken);
        return applied;
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static DbCommand Command(DbConnection connection, DbTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
