using System.Runtime.CompilerServices;
using SignalRChat.Contracts;
using SignalRChat.Server.Rooms;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

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
}
