namespace SignalRChat.Server.Redis;

/// <summary>
/// The Lua that every room and queue script starts with: the room's keys and settings by name
/// (see <see cref="RoomScriptArgs"/>), and the one way an event is appended. Appending takes the next
/// seq, applies the event to the room's state, keeps it in the log and publishes it, in one atomic
/// step, so no two nodes hand out the same seq or leave a gap.
/// </summary>
internal static class RedisLua
{
    public const string Prelude = """
        local kSeq, kLog, kHist, kActive, kActiveText = @Seq, @Log, @History, @Active, @ActiveText
        local kMeta, kMembers, kPresence, kConns, kInvited = @Meta, @Members, @Presence, @Conns, @Invited
        local kQueue, kRunning, kLease, kGens = @Queue, @Running, @Lease, @Gens
        local roomId, channel, expect, mayHaveRun = @RoomId, @Channel, @Expect, @MayHaveRun == '1'
        local mayBeNew = @MayBeNew == '1'
        local kWrites, writeId = @Writes, @WriteId
        local now, logMax, logAge, histMax, ttl = tonumber(@Now), tonumber(@LogMax), tonumber(@LogAge), tonumber(@HistMax), tonumber(@Ttl)

        """ + Appending + """
        local function finishMessage(msgId, text, state, cancelledBy)
          local items = redis.call('LRANGE', kHist, 0, -1)
          for i = #items, 1, -1 do
            local m = cjson.decode(items[i])
            if m.messageId == msgId then
              m.text = text
              m.state = state
              if cancelledBy then m.cancelledBy = cancelledBy end
              redis.call('LSET', kHist, i - 1, cjson.encode(m))
              return
            end
          end
        end

        local function append(kind, json, h)
          local seq, s
          seq, s, json = numbered(json)
          if kind == 'message' then
            redis.call('RPUSH', kHist, (string.gsub(h.message, '"seq":%-1', '"seq":' .. s)))
            redis.call('LTRIM', kHist, -histMax, -1)
          elseif kind == 'token' then
            addToActive(h.gen, h.token)
          elseif kind == 'status' then
            if h.final then
              if redis.call('HGET', kActive, 'gen') == h.gen then
                local text = h.text
                if text == nil then text = redis.call('GET', kActiveText) or '' end
                finishMessage(redis.call('HGET', kActive, 'msg'), text, h.messageState, h.cancelledBy)
                redis.call('DEL', kActive, kActiveText)
              end
            elseif h.msg then
              if redis.call('HGET', kActive, 'gen') ~= h.gen then
                redis.call('DEL', kActiveText)
                redis.call('HSET', kActive, 'gen', h.gen, 'msg', h.msg, 'state', h.state)
              else
                redis.call('HSET', kActive, 'state', h.state)
              end
            end
          end
          return logAndPublish(seq, kind, json)
        end

        -- A room is in Redis while its meta hash is (written by the first join or CreateRoom, never removed but with the rest).
        local function exists() return redis.call('EXISTS', kMeta) == 1 end

        -- Scripts that would answer for an absent room as for a new one call this first: unless the caller
        -- knows the room is new (@MayBeNew), an absent room is reported, so that it is rebuilt from the record
        -- when Redis lost it (flushed, restarted empty, expired) instead of being taken for a new, public room.
        local function requireKnown()
          if not mayBeNew and not exists() then error({err = 'ROOMABSENT the room is not in Redis'}) end
        end

        -- A room's hot state expires when nothing happens in it for the TTL; each membership change and reply renews it.
        local function touch()
          if ttl <= 0 then return end
          for _, k in ipairs({kSeq, kLog, kHist, kMeta, kMembers, kPresence, kConns, kInvited, kQueue, kGens}) do redis.call('EXPIRE', k, ttl) end
        end

        local function putGen(id, g) redis.call('HSET', kGens, id, cjson.encode(g)) end

        """;

    /// <summary>
    /// What every append needs, for <see cref="Prelude"/> and the delta's own lean script (<see cref="TokenPrelude"/>): the
    /// next seq, the log and the publish, a held-back write's expectation, and a reply's record.
    /// </summary>
    private const string Appending = """
        local function numbered(json)
          local seq = redis.call('INCR', kSeq)
          local s = tostring(seq)
          return seq, s, (string.gsub(json, '"seq":%-1', '"seq":' .. s))
        end

        local function logAndPublish(seq, kind, json)
          redis.call('ZADD', kLog, seq, now .. '|' .. kind .. '|' .. json)
          local excess = redis.call('ZCARD', kLog) - logMax
          if excess > 0 then redis.call('ZREMRANGEBYRANK', kLog, 0, excess - 1) end
          for _ = 1, 100 do
            local first = redis.call('ZRANGE', kLog, 0, 0)[1]
            if not first or now - tonumber(string.match(first, '^(%d+)|')) <= logAge then break end
            redis.call('ZREMRANGEBYRANK', kLog, 0, 0)
          end
          redis.call('SPUBLISH', channel, kind .. '|' .. json)
          if writeId ~= '' and redis.call('HSETNX', kWrites, writeId, seq) == 1 then redis.call('EXPIRE', kWrites, 600) end
          return seq
        end

        -- A write held back while Redis was unreachable carries the seq it was given then, and an id of its own.
        -- 'ok': it takes that seq; 'dup': it is already in the log, at the seq returned second; 'moved': another
        -- node wrote meanwhile, so it takes the next seq instead. A held-back write that Redis took (recorded
        -- under its id) is a retry whose answer was lost: 'dup'. The first write of a hold-back, whose call
        -- timed out before it was held back, had no id then: it is looked for by its content, among the few
        -- seqs written since the one it was given (only it, as a reply repeats its deltas' texts, so looking
        -- for later ones would find the node's own earlier writes).
        local function expectation(kind, json)
          if expect == '' then return 'ok' end
          if writeId ~= '' then
            local took = redis.call('HGET', kWrites, writeId)
            if took then return 'dup', tonumber(took) end
          end
          local want = tonumber(expect)
          local current = tonumber(redis.call('GET', kSeq) or '0')
          if current == want - 1 then return 'ok' end
          if current >= want and mayHaveRun then
            local entries = redis.call('ZRANGEBYSCORE', kLog, want, math.min(current, want + 200), 'WITHSCORES')
            for i = 1, #entries, 2 do
              local at = entries[i + 1]
              local wanted = kind .. '|' .. (string.gsub(json, '"seq":%-1', '"seq":' .. at))
              if string.sub(entries[i], -#wanted) == wanted then return 'dup', tonumber(at) end
            end
          end
          return 'moved'
        end

        local function getGen(id)
          local json = redis.call('HGET', kGens, id)
          if json then return cjson.decode(json) end
          return nil
        end

        -- A delta or a progress status of a reply that no longer runs (another node gave it up when its lease ran out, and
        -- wrote its final status) is refused, so nothing of a reply follows its final status.
        local function requireRunning(gen)
          local g = getGen(gen)
          if not g or (g.state ~= 'running' and g.state ~= 'closing') then
            error({err = 'GENERATIONGONE the reply no longer runs: another node gave it up'})
          end
        end

        -- The running reply's text so far (for a joiner's snapshot) grows by each of its deltas.
        local function addToActive(gen, token)
          if redis.call('HGET', kActive, 'gen') == gen then redis.call('APPEND', kActiveText, token) end
        end

        """;

    /// <summary>
    /// The start of the script that appends a reply's delta (<see cref="RoomScripts.AppendToken"/>), the one written for
    /// every delta: only the keys and settings a delta touches (<see cref="TokenScriptArgs"/>), so each call carries a
    /// dozen parameters instead of the forty every other room script takes.
    /// </summary>
    public const string TokenPrelude = """
        local kSeq, kLog, kActive, kActiveText, kGens, kWrites = @Seq, @Log, @Active, @ActiveText, @Gens, @Writes
        local channel, expect, mayHaveRun, writeId = @Channel, @Expect, @MayHaveRun == '1', @WriteId
        local now, logMax, logAge = tonumber(@Now), tonumber(@LogMax), tonumber(@LogAge)

        """ + Appending;
}
