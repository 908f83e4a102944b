using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>The room's operations in Redis: one prepared script each, with named parameters (<see cref="RoomScriptArgs"/>).</summary>
internal static class RoomScripts
{
    private const string Rules = """
        local function mayEnter(user)
          local visibility = redis.call('HGET', kMeta, 'visibility')
          if not visibility or visibility == 'public' then return true end
          if redis.call('HGET', kMeta, 'creator') == user then return true end
          return redis.call('SISMEMBER', kInvited, user) == 1 or redis.call('HEXISTS', kMembers, user) == 1
        end

        local function presence(user, name, state)
          return '{"roomId":' .. cjson.encode(roomId) .. ',"userId":' .. cjson.encode(user) .. ',"name":' .. cjson.encode(name) .. ',"state":"' .. state .. '","seq":-1}'
        end

        """;

    /// <summary>
    /// Appends one event (<c>@Kind</c>, <c>@Json</c> with <c>"seq":-1</c>, <c>@Hint</c>); returns its seq. A delta or
    /// a progress status of a reply that no longer runs (another node gave it up when its lease ran out, and wrote its
    /// final status) is refused with <c>GENERATIONGONE</c>, so nothing of a reply follows its final status.
    /// </summary>
    public static readonly LuaScript Append = Prepare("""
        local h = cjson.decode(@Hint)
        if h.gen and (@Kind == 'token' or (@Kind == 'status' and not h.final and h.state ~= 'queued')) then requireRunning(h.gen) end
        local check, at = expectation(@Kind, @Json)
        if check == 'dup' then return at end
        return append(@Kind, @Json, h)
        """);

    /// <summary>
    /// Appends a reply's delta (<c>@Json</c> with <c>"seq":-1</c>, its text <c>@Token</c>, its reply <c>@Gen</c>) as <see cref="Append"/>
    /// does, with the keys and settings of a delta only (<see cref="TokenScriptArgs"/>); returns its seq, refuses a reply that no longer
    /// runs with <c>GENERATIONGONE</c>.
    /// </summary>
    public static readonly LuaScript AppendToken = LuaScript.Prepare(RedisLua.TokenPrelude + """
        local gen, json = @Gen, @Json
        requireRunning(gen)
        local check, at = expectation('token', json)
        if check == 'dup' then return at end
        local seq, s
        seq, s, json = numbered(json)
        addToActive(gen, @Token)
        return logAndPublish(seq, 'token', json)
        """);

    /// <summary>Whether <paramref name="script"/> appends one event and returns its seq.</summary>
    public static bool IsAppend(LuaScript script) => script == Append || script == AppendToken;

    /// <summary>Adds connection <c>@Conn</c> of <c>@User</c> (<c>@Name</c>); presence <c>joined</c> on the user's first. 0 when not invited.</summary>
    public static readonly LuaScript Enter = Prepare("""
        requireKnown()
        local user, name, conn = @User, @Name, @Conn
        if not exists() then redis.call('HSET', kMeta, 'visibility', 'public', 'creator', user) end
        if not mayEnter(user) then return 0 end
        redis.call('HSET', kMembers, user, name)
        if redis.call('HSETNX', kConns, conn, user) == 1 and redis.call('HINCRBY', kPresence, user, 1) == 1 then
          append('presence', presence(user, name, 'joined'), {})
        end
        touch()
        return 1
        """);

    public static readonly LuaScript Exit = Prepare("""
        local user, conn, endMembership = @User, @Conn, @EndMembership == '1'
        local name = redis.call('HGET', kMembers, user) or user
        local online = tonumber(redis.call('HGET', kPresence, user) or '0')
        if redis.call('HDEL', kConns, conn) == 1 then
          online = redis.call('HINCRBY', kPresence, user, -1)
          if online <= 0 then
            redis.call('HDEL', kPresence, user)
            append('presence', presence(user, name, 'left'), {})
          end
        end
        if endMembership and online <= 0 then redis.call('HDEL', kMembers, user) end
        return 1
        """);

    public static readonly LuaScript Ensure = Prepare("""
        requireKnown()
        if not exists() then redis.call('HSET', kMeta, 'visibility', 'public', 'creator', @User) end
        if not mayEnter(@User) then return 0 end
        redis.call('HSETNX', kMembers, @User, @Name)
        touch()
        return 1
        """);

    public static readonly LuaScript Create = Prepare("""
        requireKnown()
        local user, visibility = @User, @Visibility
        if exists() then
          -- Only its creator asking for the same visibility gets the room: a room never changes visibility.
          local meta = redis.call('HMGET', kMeta, 'creator', 'visibility')
          if meta[1] == user and (meta[2] or 'public') == visibility then return 'yours' end
          return 'taken'
        end
        redis.call('HSET', kMeta, 'visibility', visibility, 'creator', user)
        touch()
        return 'created'
        """);

    /// <summary>1 invited, 2 already invited, 3 the list holds <c>@Count</c> already (nothing written), 0 no such room.</summary>
    public static readonly LuaScript Invite = Prepare("""
        requireKnown()
        if not exists() then return 0 end
        if redis.call('SISMEMBER', kInvited, @User) == 1 then touch() return 2 end
        if redis.call('SCARD', kInvited) >= tonumber(@Count) then return 3 end
        redis.call('SADD', kInvited, @User)
        touch()
        return 1
        """);

    public static readonly LuaScript IsMember = Prepare("""
        requireKnown()
        return redis.call('HEXISTS', kMembers, @User)
        """);

    public static readonly LuaScript MayEnter = Prepare("""
        requireKnown()
        if mayEnter(@User) then return 1 end
        return 0
        """);

    /// <summary>[lastSeq, the last <c>@Count</c> messages, active gen, msg, state, text, online users and names, the room's settings as JSON].</summary>
    public static readonly LuaScript Snapshot = Prepare("""
        requireKnown()
        local count = tonumber(@Count)
        local active = redis.call('HMGET', kActive, 'gen', 'msg', 'state')
        local online = {}
        local presenceList = redis.call('HGETALL', kPresence)
        for i = 1, #presenceList, 2 do
          if tonumber(presenceList[i + 1]) > 0 then
            table.insert(online, presenceList[i])
            table.insert(online, redis.call('HGET', kMembers, presenceList[i]) or presenceList[i])
          end
        end
        return {redis.call('GET', kSeq) or '0', redis.call('LRANGE', kHist, -count, -1), active[1] or '', active[2] or '', active[3] or '', redis.call('GET', kActiveText) or '', online, settingsJson()}
        """);

    /// <summary>[lastSeq, 1 when <c>@After</c> is older than the log keeps, at most <c>@Count</c> logged events after it].</summary>
    public static readonly LuaScript Read = Prepare("""
        requireKnown()
        local after = tonumber(@After)
        local last = tonumber(redis.call('GET', kSeq) or '0')
        if after >= last then return {last, 0, {}} end
        local first = redis.call('ZRANGE', kLog, 0, 0, 'WITHSCORES')
        if after < 0 or not first[2] or tonumber(first[2]) > after + 1 then return {last, 1, {}} end
        return {last, 0, redis.call('ZRANGEBYSCORE', kLog, '(' .. after, '+inf', 'LIMIT', 0, tonumber(@Count))}
        """);

    /// <summary>
    /// Rebuilds a room's hot state from the record (<c>@Json</c>: visibility, creator, settings, invited, members, history as
    /// message JSON) with seq going on from <c>@After</c>, only while the room is absent, so of two nodes rebuilding at once one writes.
    /// Whatever a reply wrote after the loss (seq, log, history) is replaced. 1 when written, 0 when the room was there.
    /// </summary>
    public static readonly LuaScript Restore = Prepare("""
        if exists() then return 0 end
        local r = cjson.decode(@Json)
        local seq = math.max(tonumber(redis.call('GET', kSeq) or '0'), tonumber(@After))
        redis.call('DEL', kLog, kHist, kMembers, kPresence, kConns, kInvited)
        redis.call('HSET', kMeta, 'visibility', r.visibility)
        if type(r.creator) == 'string' then redis.call('HSET', kMeta, 'creator', r.creator) end
        if type(r.assistant) == 'string' then redis.call('HSET', kMeta, 'assistant', r.assistant) end
        if type(r.onBusy) == 'string' then redis.call('HSET', kMeta, 'onBusy', r.onBusy) end
        if type(r.topic) == 'string' then redis.call('HSET', kMeta, 'topic', r.topic) end
        for _, user in ipairs(r.invited) do redis.call('SADD', kInvited, user) end
        for _, m in ipairs(r.members) do redis.call('HSET', kMembers, m.userId, m.name) end
        for _, m in ipairs(r.history) do redis.call('RPUSH', kHist, m) end
        redis.call('LTRIM', kHist, -histMax, -1)
        redis.call('SET', kSeq, string.format('%d', seq))
        touch()
        return 1
        """);

    private static LuaScript Prepare(string body) => LuaScript.Prepare(RedisLua.Prelude + Rules + CollaborationScripts.Rules + body);
}
