using System.Runtime.CompilerServices;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
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

/// <summary>
/// The parameters of <see cref="RoomScripts.AppendToken"/>, the script written for every delta of a reply: the six keys a delta
/// touches and its settings, where every other room script takes the room's sixteen keys and some thirty arguments
/// (<see cref="RoomScriptArgs"/>).
/// </summary>
internal sealed class TokenScriptArgs : IWriteArgs
{
    // By the room id's string itself: a reply appends all its deltas with one, so a reply's key names are built once and let go with it.
    private static readonly ConditionalWeakTable<string, RoomKeys> KeysOf = new();

    private readonly RoomKeys _keys;

    public TokenScriptArgs(TokenEvent token, string json, long nowMs, RoomOptions options)
    {
        _keys = KeysOf.GetValue(token.RoomId, static roomId => new RoomKeys(roomId));
        Now = nowMs;
        LogMax = options.EventLogSize;
        LogAge = (long)options.EventLogMaxAge.TotalMilliseconds;
        Gen = token.GenerationId;
        Token = token.Text;
        Json = json;
    }

    public RedisKey Seq => _keys.Seq;
    public RedisKey Log => _keys.Log;
    public RedisKey Active => _keys.Active;
    public RedisKey ActiveText => _keys.ActiveText;
    public RedisKey Gens => _keys.Gens;
    public RedisKey Writes => _keys.Writes;

    /// <summary>The room's sharded channel (<see cref="RedisKeys.RoomChannel"/>), by name.</summary>
    public RedisValue Channel => _keys.Channel;
    public RedisValue Now { get; set; }
    public RedisValue LogMax { get; }
    public RedisValue LogAge { get; }
    public RedisValue Gen { get; }
    public RedisValue Token { get; }
    public RedisValue Json { get; }
    public RedisValue Expect { get; set; } = string.Empty;
    public RedisValue MayHaveRun { get; set; } = "0";
    public RedisValue WriteId { get; set; } = string.Empty;

    /// <summary>The names of the keys a delta touches, as <see cref="RoomScriptArgs"/> names them.</summary>
    private sealed class RoomKeys
    {
        public RoomKeys(string roomId)
        {
            var room = RedisKeys.Room(roomId);
            Seq = room + ":seq";
            Log = room + ":log";
            Active = room + ":active";
            ActiveText = room + ":active:text";
            Gens = room + ":gens";
            Writes = room + ":writes";
            Channel = RedisKeys.RoomChannel(roomId).ToString();
        }

        public RedisKey Seq { get; }
        public RedisKey Log { get; }
        public RedisKey Active { get; }
        public RedisKey ActiveText { get; }
        public RedisKey Gens { get; }
        public RedisKey Writes { get; }
        public RedisValue Channel { get; }
    }
}
