namespace SignalRChat.Server.Storage;

/// <summary>Settings of section <c>Chat:Storage</c>: where the record of rooms and messages is kept.</summary>
internal sealed class StorageOptions
{
    public const string Section = "Chat:Storage";

    /// <summary><c>Sqlite</c> (default), <c>Postgres</c> or <c>Memory</c>.</summary>
    public string Provider { get; set; } = StorageProviders.Sqlite;

    /// <summary>How long <c>SendMessage</c> waits for its message to be stored before it refuses.</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the partial text of a streaming reply is written.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Writes waiting longer than this make the node's readiness say the database is behind.</summary>
    public TimeSpan BehindAfter { get; set; } = TimeSpan.FromSeconds(5);
}
