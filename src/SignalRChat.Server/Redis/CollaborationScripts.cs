using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// A room's settings and typing in Redis. The settings are fields of the room's meta hash, changed
/// together with their <c>roomSettings</c> event; <c>typing</c> is published on the room's channel
/// with no seq and no log entry, at most once per person per interval.
/// </summary>
internal static class CollaborationScripts
{
    /// <summary>Shared by the room scripts: the room's settings as the contract's JSON (absent fields are the defaults).</summary>
    public const string Rules = """
        local function settingsJson()
          local s = redis.call('HMGET', kMeta, 'assistant', 'onBusy', 'topic')
          local topic = 'null'
          if s[3] then topic = cjson.encode(s[3]) end
          return '{"assistant":' .. cjson.encode(s[1] or 'always') .. ',"onBusy":' .. cjson.encode(s[2] or 'queue') .. ',"topic":' .. topic .. '}'
        end

        """;

    /// <summary>[settings JSON, the generating reply's id or ''].</summary>
    public static readonly LuaScript Activity = Prepare("return {settingsJson(), redis.call('HGET', kActive, 'gen') or ''}");

    /// <summary>
    /// Merges @Assistant, @OnBusy and (with @HasTopic) @Topic ('' clears it) into the settings and appends their event, changed by
    /// @User (@Name); with @Check, only a member may, and for a private room only its creator. Returns the settings, or ''.
    /// </summary>
    public static readonly LuaScript Settings = Prepare("""
        requireKnown()
        local user, name = @User, @Name
        if @Check == '1' then
          if redis.call('HEXISTS', kMembers, user) == 0 then return '' end
          if redis.call('HGET', kMeta, 'visibility') == 'private' and redis.call('HGET', kMeta, 'creator') ~= user then return '' end
        end
        if @Assistant ~= '' then redis.call('HSET', kMeta, 'assistant', @Assistant) end
        if @OnBusy ~= '' then redis.call('HSET', kMeta, 'onBusy', @OnBusy) end
        if @HasTopic == '1' then
          if @Topic == '' then redis.call('HDEL', kMeta, 'topic') else redis.call('HSET', kMeta, 'topic', @Topic) end
        end
        local settings = settingsJson()
        append('roomSettings', '{"roomId":' .. cjson.encode(roomId) .. ',"settings":' .. settings .. ',"changedBy":{"userId":' .. cjson.encode(user) .. ',"name":' .. cjson.encode(name) .. '},"seq":-1}', {})
        touch()
        return settings
        """);

    /// <summary>Publishes <c>typing</c> (@Json) for member @User unless their last one is under @IntervalMs old: 1 sent, 0 too soon, -1 not a member.</summary>
    public static readonly LuaScript Typing = Prepare("""
        if redis.call('HEXISTS', kMembers, @User) == 0 then return -1 end
        local last = tonumber(redis.call('HGET', @Typing, @User) or '0')
        if now - last < tonumber(@IntervalMs) then return 0 end
        redis.call('HSET', @Typing, @User, now)
        redis.call('PEXPIRE', @Typing, tonumber(@IntervalMs) * 5)
        redis.call('SPUBLISH', channel, 'typing|' .. @Json)
        return 1
        """);

    private static LuaScript Prepare(string body) => LuaScript.Prepare(RedisLua.Prelude + Rules + body);
}
