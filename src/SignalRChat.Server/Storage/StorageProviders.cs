namespace SignalRChat.Server.Storage;

/// <summary>Values of <c>Chat:Storage:Provider</c>.</summary>
internal static class StorageProviders
{
    public const string Sqlite = "Sqlite";
    public const string Postgres = "Postgres";
    public const string Memory = "Memory";

    public const string Allowed = "Sqlite (default), Postgres or Memory";
}
