namespace SignalRChat.Server.Redis;

/// <summary>
/// Every change to a room in Redis is one Lua script, so it is atomic: taking the next seq,
/// applying the event to the room's state, keeping it in the log and publishing it happen
/// together, and no two nodes can hand out the same seq or leave a gap. One script text with one
/// entry per operation; keys of a room share the hash tag <c>{room:ID}</c>.
/// </summary>
internal static class RedisScripts
{
    // KEYS[1] = room key prefix, KEYS[2] = global key prefix.
    // ARGV[1] = operation, [2] = now (unix ms), [3] = log max count, [4] = log max age (ms),
    // [5] = history max, [6] = room id, [7] = room channel, [8] = the seq this write must take ('' for any: see
    // RedisRoomStore's backlog), [9]... = operation arguments.
    public const string Room = """
        local room, global = KEYS[1], KEYS[2]
        local op, now, logMax, logAge, histMax, roomId, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
        local kSeq, kLog, kHist = room .. ':seq', room .. ':log', room .. ':history'
        local kActive, kActiveText = room .. ':active', room .. ':active:text'
        local kMeta, kMembers, kPresence, kConns, kInvited = room .. ':meta', room .. ':members', room .. ':presence', room .. ':conns', room .. ':invited'
        local kQueue, kRunning = room .. ':queue', room .. ':running'
        local kLeases, kCancel = global .. ':leases', global .. ':cancel'
        local function kGen(id) return room .. ':gen:' .. id end
        local function kGenRoom(id) return global .. ':genroom:' .. id end

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
          local seq = redis.call('INCR', kSeq)
          local s = tostring(seq)
          json = (string.gsub(json, '"seq":%-1', '"seq":' .. s))
          if kind == 'message' then
            redis.call('RPUSH', kHist, (string.gsub(h.message, '"seq":%-1', '"seq":' .. s)))
            redis.call('LTRIM', kHist, -histMax, -1)
          elseif kind == 'token' then
            if redis.call('HGET', kActive, 'gen') == h.gen then redis.call('APPEND', kActiveText, h.token) end
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
          redis.call('ZADD', kLog, seq, now .. '|' .. kind .. '|' .. json)
          local excess = redis.call('ZCARD', kLog) - logMax
          if excess > 0 then redis.call('ZREMRANGEBYRANK', kLog, 0, excess - 1) end
          for _ = 1, 100 do
            local first = redis.call('ZRANGE', kLog, 0, 0)[1]
            if not first or now - tonumber(string.match(first, '^(%d+)|')) <= logAge then break end
            redis.call('ZREMRANGEBYRANK', kLog, 0, 0)
          end
          redis.call('PUBLISH', channel, kind .. '|' .. json)
          return seq
        end

        local args = {}
        for i = 9, #ARGV do args[#args + 1] = ARGV[i] end
        local expect = ARGV[8]

        -- A write held back while Redis was unreachable carries the seq it was given then. 'ok': it takes
        -- that seq; 'dup': it already did (the call that timed out had in fact run); 'moved': another
        -- node wrote meanwhile, so it takes the next seq instead.
        local function expectation(kind, json)
          if expect == '' then return 'ok' end
          local want = tonumber(expect)
          local current = tonumber(redis.call('GET', kSeq) or '0')
          if current == want - 1 then return 'ok' end
          if current >= want then
            local existing = redis.call('ZRANGEBYSCORE', kLog, want, want)[1]
            local wanted = kind .. '|' .. (string.gsub(json, '"seq":%-1', '"seq":' .. expect))
            if existing and string.sub(existing, -#wanted) == wanted then return 'dup' end
          end
          return 'moved'
        end

        local function exists() return redis.call('EXISTS', kMeta) == 1 or redis.call('EXISTS', kSeq) == 1 end

        local function mayEnter(user)
          local visibility = redis.call('HGET', kMeta, 'visibility')
          if not visibility or visibility == 'public' then return true end
          if redis.call('HGET', kMeta, 'creator') == user then return true end
          return redis.call('SISMEMBER', kInvited, user) == 1 or redis.call('HEXISTS', kMembers, user) == 1
        end

        local function presence(user, name, state)
          return '{"roomId":' .. cjson.encode(roomId) .. ',"userId":' .. cjson.encode(user) .. ',"name":' .. cjson.encode(name) .. ',"state":"' .. state .. '","seq":-1}'
        end

        local function failedStatus(gen, msgId, text, error)
          local json = '{"roomId":' .. cjson.encode(roomId) .. ',"generationId":' .. cjson.encode(gen) .. ',"state":"failed","text":' .. cjson.encode(text) .. ',"error":' .. cjson.encode(error)
          if msgId then json = json .. ',"messageId":' .. cjson.encode(msgId) end
          return json .. ',"seq":-1}'
        end

        -- Hands the room to the next waiting generation, or frees it.
        local function runNext(leaseMs)
          local nextId = redis.call('LPOP', kQueue)
          if not nextId then
            redis.call('DEL', kRunning)
            redis.call('ZREM', kLeases, roomId)
            return {}
          end
          redis.call('SET', kRunning, nextId)
          redis.call('HSET', kGen(nextId), 'state', 'running')
          redis.call('ZADD', kLeases, now + leaseMs, roomId)
          local g = redis.call('HMGET', kGen(nextId), 'user', 'name', 'umid', 'useq', 'amid')
          return {nextId, g[1], g[2], g[3], g[4], g[5]}
        end

        if op == 'append' then
          local check = expectation(args[1], args[2])
          if check == 'dup' then return tonumber(expect) end
          return append(args[1], args[2], cjson.decode(args[3]))
        elseif op == 'enter' then
          local user, name, conn = args[1], args[2], args[3]
          if not mayEnter(user) then return 0 end
          redis.call('HSET', kMembers, user, name)
          if redis.call('HSETNX', kConns, conn, user) == 1 and redis.call('HINCRBY', kPresence, user, 1) == 1 then
            append('presence', presence(user, name, 'joined'), {})
          end
          return 1
        elseif op == 'exit' then
          local user, conn, endMembership = args[1], args[2], args[3] == '1'
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
        elseif op == 'ensure' then
          if not mayEnter(args[1]) then return 0 end
          redis.call('HSETNX', kMembers, args[1], args[2])
          return 1
        elseif op == 'create' then
          local user, visibility = args[1], args[2]
          if exists() then
            if redis.call('HGET', kMeta, 'creator') == user or redis.call('HEXISTS', kMembers, user) == 1 then return 'yours' end
            return 'taken'
          end
          redis.call('HSET', kMeta, 'visibility', visibility, 'creator', user)
          return 'created'
        elseif op == 'invite' then
          if not exists() then return 0 end
          redis.call('SADD', kInvited, args[1])
          return 1
        elseif op == 'ismember' then
          return redis.call('HEXISTS', kMembers, args[1])
        elseif op == 'mayenter' then
          if mayEnter(args[1]) then return 1 end
          return 0
        elseif op == 'snapshot' then
          local count = tonumber(args[1])
          local active = redis.call('HMGET', kActive, 'gen', 'msg', 'state')
          local online = {}
          local presenceList = redis.call('HGETALL', kPresence)
          for i = 1, #presenceList, 2 do
            if tonumber(presenceList[i + 1]) > 0 then
              table.insert(online, presenceList[i])
              table.insert(online, redis.call('HGET', kMembers, presenceList[i]) or presenceList[i])
            end
          end
          return {redis.call('GET', kSeq) or '0', redis.call('LRANGE', kHist, -count, -1), active[1] or '', active[2] or '', active[3] or '', redis.call('GET', kActiveText) or '', online}
        elseif op == 'read' then
          local after = tonumber(args[1])
          local last = tonumber(redis.call('GET', kSeq) or '0')
          if after >= last then return {last, 0, {}} end
          local first = redis.call('ZRANGE', kLog, 0, 0, 'WITHSCORES')
          if after < 0 or not first[2] or tonumber(first[2]) > after + 1 then return {last, 1, {}} end
          return {last, 0, redis.call('ZRANGEBYSCORE', kLog, '(' .. after, '+inf')}
        elseif op == 'submit' then
          local gen, maxWaiting, leaseMs, mayStart = args[1], tonumber(args[2]), tonumber(args[3]), args[11] == '1'
          local running = redis.call('GET', kRunning)
          if running and redis.call('LLEN', kQueue) >= maxWaiting then return {'full'} end
          -- This node has no free slot for a reply that would start now: refused before anything is written.
          if not running and redis.call('LLEN', kQueue) == 0 and not mayStart then return {'busy'} end
          local seq = append('message', args[4], cjson.decode(args[5]))
          redis.call('HSET', kGen(gen), 'user', args[6], 'name', args[7], 'umid', args[8], 'useq', seq, 'amid', args[9], 'state', 'queued')
          redis.call('SET', kGenRoom(gen), roomId, 'EX', 86400)
          if not running and redis.call('LLEN', kQueue) == 0 then
            redis.call('SET', kRunning, gen)
            redis.call('HSET', kGen(gen), 'state', 'running')
            redis.call('ZADD', kLeases, now + leaseMs, roomId)
            return {'run', seq}
          end
          redis.call('RPUSH', kQueue, gen)
          append('status', args[10], {gen = gen})
          return {'queued', seq}
        elseif op == 'finish' then
          -- The final status was decided by the node's generation host; this only writes it and moves the queue on.
          local gen, leaseMs = args[1], tonumber(args[2])
          local state = redis.call('HGET', kGen(gen), 'state')
          if state ~= 'running' and state ~= 'closing' then return {'gone'} end
          if expectation('status', args[3]) == 'dup' then return {'gone'} end
          append('status', args[3], cjson.decode(args[4]))
          redis.call('HSET', kGen(gen), 'state', 'done')
          redis.call('EXPIRE', kGen(gen), 3600)
          redis.call('EXPIRE', kGenRoom(gen), 3600)
          if redis.call('GET', kRunning) ~= gen then return {'done'} end
          if args[5] == '1' then
            -- This node is shutting down: free the room and let another node's sweep start the next one now.
            redis.call('DEL', kRunning)
            if redis.call('LLEN', kQueue) > 0 then redis.call('ZADD', kLeases, now - 1, roomId) else redis.call('ZREM', kLeases, roomId) end
            return {'done'}
          end
          return runNext(leaseMs)
        elseif op == 'cancel' then
          -- args: generation, its cancelled status (for a waiting one), hint, reason, stopper id, stopper name.
          local gen = args[1]
          local state = redis.call('HGET', kGen(gen), 'state')
          if state == 'queued' then
            redis.call('LREM', kQueue, 0, gen)
            redis.call('HSET', kGen(gen), 'state', 'done')
            redis.call('EXPIRE', kGen(gen), 3600)
            append('status', args[2], cjson.decode(args[3]))
            return 'stopped'
          elseif state == 'running' then
            -- Recorded where the owner's 'close' reads it, so a Stop that wins here ends the reply as cancelled even if the message below is lost.
            if redis.call('HSETNX', kGen(gen), 'cancel', '1') == 1 then
              redis.call('HSET', kGen(gen), 'cancelReason', args[4], 'cancelUser', args[5], 'cancelName', args[6])
              redis.call('PUBLISH', kCancel, gen .. '\n' .. args[4] .. '\n' .. args[5] .. '\n' .. args[6])
              return 'signalled'
            end
          end
          return 'no'
        elseif op == 'close' then
          -- The owner is about to write the final status: from here on a Stop finds nothing to stop.
          local gen = args[1]
          if redis.call('HGET', kGen(gen), 'state') == 'running' then redis.call('HSET', kGen(gen), 'state', 'closing') end
          local c = redis.call('HMGET', kGen(gen), 'cancel', 'cancelReason', 'cancelUser', 'cancelName')
          return {c[1] or '', c[2] or '', c[3] or '', c[4] or ''}
        elseif op == 'renew' then
          if redis.call('GET', kRunning) ~= args[1] then return 0 end
          redis.call('ZADD', kLeases, now + tonumber(args[2]), roomId)
          return 1
        elseif op == 'reap' then
          -- args: lease, the failed status's error, '1' when the reaping node has a free slot for the next reply.
          local leaseMs, mayStart = tonumber(args[1]), args[3] == '1'
          local expiry = redis.call('ZSCORE', kLeases, roomId)
          if expiry and tonumber(expiry) > now then return {''} end
          local gen = redis.call('GET', kRunning)
          if not gen then
            if not mayStart then return {''} end
            local started = runNext(leaseMs)
            table.insert(started, 1, '')
            return started
          end
          local msgId = redis.call('HGET', kGen(gen), 'amid')
          local text = ''
          if redis.call('HGET', kActive, 'gen') == gen then text = redis.call('GET', kActiveText) or '' end
          append('status', failedStatus(gen, msgId, text, args[2]), {final = true, gen = gen, text = text, messageState = 'failed'})
          redis.call('HSET', kGen(gen), 'state', 'done')
          redis.call('EXPIRE', kGen(gen), 3600)
          if not mayStart then
            -- Left for a node with a free slot: the room's lease stays expired so the next sweep finds it.
            redis.call('DEL', kRunning)
            if redis.call('LLEN', kQueue) > 0 then redis.call('ZADD', kLeases, now - 1, roomId) else redis.call('ZREM', kLeases, roomId) end
            return {gen}
          end
          local started = runNext(leaseMs)
          table.insert(started, 1, gen)
          return started
        end
        return redis.error_reply('unknown operation ' .. tostring(op))
        """;
}
