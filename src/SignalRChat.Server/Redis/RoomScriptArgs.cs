using SignalRChat.Server.Rooms;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// The named parameters of the room and queue scripts (<see cref="RoomScripts"/>, <see cref="QueueScripts"/>):
/// every key of the room, passed in <c>KEYS</c> (all in the room's hash slot), the settings every
/// write needs, and the arguments of each operation by name.
/// </summary>
internal sealed class RoomScriptArgs : IWriteArgs
{
    private readonly RoomKeys _keys;

    public RoomScriptArgs(string roomId, long nowMs, RoomOptions options, TimeSpan hotStateTtl)
    {
        _keys = new RoomKeys(roomId);
        RoomId = roomId;
        Now = nowMs;
        LogMax = options.EventLogSize;
        LogAge = (long)options.EventLogMaxAge.TotalMilliseconds;
        HistMax = options.MaxHistoryMessages;
        Ttl = (long)hotStateTtl.TotalSeconds;
    }

    public RedisKey Seq => _keys.Seq;
    public RedisKey Log => _keys.Log;
    public RedisKey History => _keys.History;
    public RedisKey Active => _keys.Active;
    public RedisKey ActiveText => _keys.ActiveText;
    public RedisKey Meta => _keys.Meta;
    public RedisKey Members => _keys.Members;
    public RedisKey Presence => _keys.Presence;
    public RedisKey Conns => _keys.Conns;
    public RedisKey Invited => _keys.Invited;
    public RedisKey Queue => _keys.Queue;
    public RedisKey Running => _keys.Running;
    public RedisKey Lease => _keys.Lease;
    public RedisKey Gens => _keys.Gens;
    public RedisKey Typing => _keys.Typing;
    /// <summary>The held-back writes Redis took (write id to seq), kept ten minutes, so a retried one is not written twice.</summary>
    public RedisKey Writes => _keys.Writes;

    public RedisValue RoomId { get; }
    public RedisValue Channel => _keys.Channel;
    /// <summary>Unix ms; set again when a held-back write is finally sent, so leases and log ages count from then.</summary>
    public RedisValue Now { get; set; }
    public RedisValue LogMax { get; }
    public RedisValue LogAge { get; }
    public RedisValue HistMax { get; }
    public RedisValue Ttl { get; }

    /// <summary>The seq a write held back during an outage must take ('' for any: see <see cref="RedisWriteBehind"/>).</summary>
    public RedisValue Expect { get; set; } = string.Empty;

    /// <summary>'1' when the room may be new here (the record does not know it): scripts then do not report it absent (see <c>requireKnown</c>).</summary>
    public RedisValue MayBeNew { get; set; } = "0";

    /// <summary>'1' for the held-back write whose call timed out: it may have reached Redis after all.</summary>
    public RedisValue MayHaveRun { get; set; } = "0";

    /// <summary>A held-back write's own id ('' otherwise): a retry of it that Redis already took returns the seq it took.</summary>
    public RedisValue WriteId { get; set; } = string.Empty;

    // Arguments of the operations, by name.
    public RedisValue Kind { get; set; } = string.Empty;
    public RedisValue Json { get; set; } = string.Empty;
    public RedisValue Hint { get; set; } = "{}";
    public RedisValue User { get; set; } = string.Empty;
    public RedisValue Name { get; set; } = string.Empty;
    public RedisValue Conn { get; set; } = string.Empty;
    public RedisValue EndMembership { get; set; } = "0";
    public RedisValue Visibility { get; set; } = string.Empty;
    public RedisValue Count { get; set; } = 0;
    public RedisValue After { get; set; } = 0;
    public RedisValue Gen { get; set; } = string.Empty;
    public RedisValue MaxWaiting { get; set; } = 0;
    public RedisValue LeaseMs { get; set; } = 0;
    public RedisValue MayStart { get; set; } = "0";
    public RedisValue UserJson { get; set; } = string.Empty;
    public RedisValue UserHint { get; set; } = "{}";
    public RedisValue UserMessageId { get; set; } = string.Empty;
    public RedisValue AssistantMessageId { get; set; } = string.Empty;
    public RedisValue QueuedJson { get; set; } = string.Empty;
    public RedisValue Reason { get; set; } = string.Empty;
    public RedisValue StopUser { get; set; } = string.Empty;
    public RedisValue StopName { get; set; } = string.Empty;
    public RedisValue Error { get; set; } = string.Empty;
    public RedisValue Draining { get; set; } = "0";
    public RedisValue Node { get; set; } = string.Empty;

    // Room settings, typing and Regenerate (see CollaborationScripts and QueueScripts.Submit).
    public RedisValue Check { get; set; } = "1";
    public RedisValue Assistant { get; set; } = string.Empty;
    public RedisValue OnBusy { get; set; } = string.Empty;
    public RedisValue Topic { get; set; } = string.Empty;
    public RedisValue HasTopic { get; set; } = "0";
    public RedisValue IntervalMs { get; set; } = 0;
    public RedisValue UserSeq { get; set; } = 0;
    public RedisValue Regenerates { get; set; } = string.Empty;

    /// <summary>Sets the arguments of a room operation.</summary>
    public RoomScriptArgs With(string? user = null, string? name = null, string? conn = null, bool? endMembership = null, string? visibility = null,
        long? after = null, int? count = null)
    {
        if (user is not null)
        {
            User = user;
        }

        if (name is not null)
        {
            Name = name;
        }

        if (conn is not null)
        {
            Conn = conn;
        }

        if (endMembership is { } end)
        {
            EndMembership = end ? "1" : "0";
        }

        if (visibility is not null)
        {
            Visibility = visibility;
        }

        if (after is { } afterSeq)
        {
            After = afterSeq;
        }

        if (count is { } max)
        {
            Count = max;
        }

        return this;
    }
}
