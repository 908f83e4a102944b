using System.Data.Common;

namespace SignalRChat.Server.Storage;

/// <summary>What differs between the SQL databases the record runs on: how to connect, and which migrations to run.</summary>
internal abstract class SqlDatabase
{
    /// <summary>The database and its setting, for messages: "SQLite at /srv/data/signalrchat.db (ConnectionStrings:Sqlite)".</summary>
    public abstract string Description { get; }

    /// <summary>The folder of <c>Storage/Migrations</c> that holds this database's schema.</summary>
    public abstract string MigrationsFolder { get; }

    /// <summary>Run first in the migration's transaction, so that nodes starting together migrate one at a time.</summary>
    public virtual string? MigrationLock => null;

    public abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);
}
