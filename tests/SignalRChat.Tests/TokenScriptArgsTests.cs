using SignalRChat.Contracts;
using SignalRChat.Server.Redis;
using SignalRChat.Server.Rooms;
using StackExchange.Redis;

namespace SignalRChat.Tests;

/// <summary>
/// A reply's delta is appended by a script of its own (<see cref="RoomScripts.AppendToken"/>) with arguments of its own: they must
/// name the room's keys, channel and log limits exactly as every other room script does, or deltas would go to keys nothing else reads.
/// </summary>
public sealed class TokenScriptArgsTests
{
    [Fact]
    public void A_deltas_arguments_name_the_same_keys_channel_and_limits_as_the_rooms_scripts()
    {
        var options = new RoomOptions { EventLogSize = 321, EventLogMaxAge = TimeSpan.FromMinutes(7) };
        var delta = new TokenEvent("lobby-{x}", "g-1", "Hello");
        var lean = new TokenScriptArgs(delta, "{\"seq\":-1}", 1234, options);
        var room = new RoomScriptArgs("lobby-{x}", 1234, options, TimeSpan.FromDays(7));

        Assert.Equal(
            (room.Seq, room.Log, room.Active, room.ActiveText, room.Gens, room.Writes),
            (lean.Seq, lean.Log, lean.Active, lean.ActiveText, lean.Gens, lean.Writes));
        Assert.Equal((room.Channel, room.Now, room.LogMax, room.LogAge), (lean.Channel, lean.Now, lean.LogMax, lean.LogAge));
        Assert.Equal(((RedisValue)"g-1", (RedisValue)"Hello", (RedisValue)"{\"seq\":-1}"), (lean.Gen, lean.Token, lean.Json));

        // A second delta of the same reply names the same keys (built once and kept for the reply's room id).
        var next = new TokenScriptArgs(delta with { Text = " world" }, "{}", 1235, options);
        Assert.Equal((lean.Seq, lean.Channel), (next.Seq, next.Channel));
    }

    [Fact]
    public void Only_a_delta_takes_the_lean_script()
    {
        Assert.Same(RoomScripts.AppendToken, RedisRoomStore.AppendScript(new TokenEvent("r", "g", "t")));
        Assert.Same(RoomScripts.Append, RedisRoomStore.AppendScript(new PresenceEvent("r", "u", "U", PresenceStates.Joined)));
        Assert.True(RoomScripts.IsAppend(RoomScripts.AppendToken));
        Assert.True(RoomScripts.IsAppend(RoomScripts.Append));
        Assert.False(RoomScripts.IsAppend(RoomScripts.Enter));
    }
}
