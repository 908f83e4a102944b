namespace SignalRChat.Server.Storage;

/// <summary>How the record's writes are going: what waits, for how long, and the last failure while it fails.</summary>
internal sealed record RecordHealth(string Record, int Waiting, TimeSpan OldestWaiting, string? Failure, TimeSpan FailingFor, TimeSpan BehindAfter)
{
    public bool IsDown => Failure is not null;

    public bool IsBehind => OldestWaiting > BehindAfter;
}
