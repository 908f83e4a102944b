using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>What a write held back while Redis did not answer sets on its script's arguments (<see cref="RedisWriteBehind"/>).</summary>
internal interface IWriteArgs
{
    /// <summary>Unix ms; set again when a held-back write is finally sent, so leases and log ages count from then.</summary>
    RedisValue Now { get; set; }

    /// <summary>The seq a write held back during an outage must take ('' for any).</summary>
    RedisValue Expect { get; set; }

    /// <summary>'1' for the held-back write whose call timed out: it may have reached Redis after all.</summary>
    RedisValue MayHaveRun { get; set; }

    /// <summary>A held-back write's own id ('' otherwise): a retry of it that Redis already took returns the seq it took.</summary>
    RedisValue WriteId { get; set; }
}
