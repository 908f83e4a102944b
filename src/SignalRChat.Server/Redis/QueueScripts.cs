using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// The room's generation queue and lease in Redis, in the room's own keys: one prepared script per
/// operation. The final status of a reply is decided by the node's generation host; these only write
/// it, hand the room to the next reply and record Stops. A room's lease is its <c>:lease</c> key; the
/// lease index buckets (<see cref="RedisKeys.LeaseBucketOf"/>) are written by the caller, outside the
/// script, so a script touches one hash slot.
/// </summary>
internal static class QueueScripts
{
    private const string Rules = """
        local function failedStatus(gen, msgId, text, error)
          local json = '{"roomId":' .. cjson.encode(roomId) .. ',"generationId":' .. cjson.encode(gen) .. ',"state":"failed","text":' .. cjson.encode(text) .. ',"error":' .. cjson.encode(error)
          if msgId then json = json .. ',"messageId":' .. cjson.encode(msgId) end
          return json .. ',"seq":-1}'
        end

        -- Hands the room to the next waiting generation, run by @Node, or frees it.
        -- {'next', id, user, name, user message id, its seq, assistant message id} or {'free'}.
        local function runNext(leaseMs)
          while true do
            local nextId = redis.call('LPOP', kQueue)
            if not nextId then
              redis.call('DEL', kRunning, kLease)
              return {'free'}
            end
            local g = getGen(nextId)
            if g then
              g.state = 'running'
              g.owner = @Node
              putGen(nextId, g)
              redis.call('SET', kRunning, nextId)
              redis.call('SET', kLease, now + leaseMs)
              return {'next', nextId, g.user, g.name, g.umid, tostring(g.useq), g.amid, g.regen or ''}
            end
          end
        end

        -- Frees the room for another node: 'wait' when replies wait (the index keeps the room, expired), else 'free'.
        local function release()
          redis.call('DEL', kRunning, kLease)
          if redis.call('LLEN', kQueue) > 0 then return {'wait'} end
          return {'free'}
        end

        """;

    /// <summary>Appends the user message and runs (<c>run</c>) or queues (<c>queued</c>) the reply; <c>full</c> or <c>busy</c> append nothing.</summary>
    public static readonly LuaScript Submit = Prepare("""
        local gen, maxWaiting, leaseMs, mayStart = @Gen, tonumber(@MaxWaiting), tonumber(@LeaseMs), @MayStart == '1'
        local running = redis.call('GET', kRunning)
        local waiting = redis.call('LLEN', kQueue)
        if running and waiting >= maxWaiting then return {'full'} end
        -- This node has no free slot for a reply that would start now: refused before anything is written.
        if not running and waiting == 0 and not mayStart then return {'busy'} end
        -- No @UserJson: a new reply to a message already in the room (Regenerate), at its seq @UserSeq.
        local seq
        if @UserJson == '' then seq = tonumber(@UserSeq) else seq = append('message', @UserJson, cjson.decode(@UserHint)) end
        local g = {user = @User, name = @Name, umid = @UserMessageId, useq = seq, amid = @AssistantMessageId, state = 'queued', regen = @Regenerates}
        touch()
        if not running and waiting == 0 then
          g.state = 'running'
          g.owner = @Node
          putGen(gen, g)
          redis.call('SET', kRunning, gen)
          redis.call('SET', kLease, now + leaseMs)
          return {'run', seq}
        end
        putGen(gen, g)
        redis.call('RPUSH', kQueue, gen)
        append('status', @QueuedJson, {gen = gen})
        return {'queued', seq}
        """);

    /// <summary>The owner is about to write the final status: from here on a Stop finds nothing to stop. Returns the Stop recorded before.</summary>
    public static readonly LuaScript Close = Prepare("""
        local g = getGen(@Gen)
        if not g then return {'', '', '', ''} end
        if g.state == 'running' then
          g.state = 'closing'
          putGen(@Gen, g)
        end
        return {g.cancel or '', g.cancelReason or '', g.cancelUser or '', g.cancelName or ''}
        """);

    /// <summary>Writes the final status decided by the owner and moves the queue on (<c>next</c> runs on <c>@Node</c>).</summary>
    public static readonly LuaScript Finish = Prepare("""
        local gen, leaseMs = @Gen, tonumber(@LeaseMs)
        local g = getGen(gen)
        if not g or (g.state ~= 'running' and g.state ~= 'closing') then return {'gone'} end
        if expectation('status', @Json) == 'dup' then return {'gone'} end
        append('status', @Json, cjson.decode(@Hint))
        redis.call('HDEL', kGens, gen)
        touch()
        if redis.call('GET', kRunning) ~= gen then return {'done'} end
        -- This node is shutting down: free the room and let another node's sweep start the next one now.
        if @Draining == '1' then return release() end
        return runNext(leaseMs)
        """);

    /// <summary>
    /// A waiting reply is taken off the queue with its cancelled status (<c>stopped</c>); a running one
    /// has the Stop recorded where <see cref="Close"/> reads it (<c>signalled</c>, with its owner node).
    /// </summary>
    public static readonly LuaScript Cancel = Prepare("""
        local gen = @Gen
        local g = getGen(gen)
        if not g then return {'no'} end
        if g.state == 'queued' then
          redis.call('LREM', kQueue, 0, gen)
          redis.call('HDEL', kGens, gen)
          append('status', @Json, cjson.decode(@Hint))
          return {'stopped'}
        elseif g.state == 'running' and not g.cancel then
          g.cancel = '1'
          g.cancelReason = @Reason
          g.cancelUser = @StopUser
          g.cancelName = @StopName
          putGen(gen, g)
          return {'signalled', g.owner or ''}
        end
        return {'no'}
        """);

    public static readonly LuaScript Renew = Prepare("""
        if redis.call('GET', kRunning) ~= @Gen then return 0 end
        redis.call('SET', kLease, now + tonumber(@LeaseMs))
        return 1
        """);

    /// <summary>
    /// For a room whose lease ran out: fails the dead node's reply and hands the room on.
    /// [failed generation or '', its message as the history now has it (JSON) or '', outcome ('alive', 'free', 'wait', 'next'), next reply's fields].
    /// </summary>
    public static readonly LuaScript Reap = Prepare("""
        local leaseMs, mayStart = tonumber(@LeaseMs), @MayStart == '1'
        local gen = redis.call('GET', kRunning)
        if gen and tonumber(redis.call('GET', kLease) or '0') > now then return {'', '', 'alive'} end
        local failed, message = '', ''
        if gen then
          local g = getGen(gen)
          local text = ''
          local msgId = redis.call('HGET', kActive, 'msg')
          if redis.call('HGET', kActive, 'gen') == gen then text = redis.call('GET', kActiveText) or '' else msgId = nil end
          append('status', failedStatus(gen, g and g.amid, text, @Error), {final = true, gen = gen, text = text, messageState = 'failed'})
          redis.call('HDEL', kGens, gen)
          failed = gen
          -- The failed message, for the record: the dead node can no longer write its end.
          msgId = msgId or (g and g.amid)
          if msgId then
            local items = redis.call('LRANGE', kHist, -100, -1)
            for i = #items, 1, -1 do
              if cjson.decode(items[i]).messageId == msgId then message = items[i] break end
            end
          end
        end
        local outcome
        if mayStart then outcome = runNext(leaseMs) else outcome = release() end
        table.insert(outcome, 1, message)
        table.insert(outcome, 1, failed)
        return outcome
        """);

    private static LuaScript Prepare(string body) => LuaScript.Prepare(RedisLua.Prelude + Rules + body);
}
