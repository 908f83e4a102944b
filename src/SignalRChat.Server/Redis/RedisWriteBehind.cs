using SignalRChat.Contracts;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Keeps a room going on this node while Redis does not answer. A write of this node's own (a reply
/// it runs, a presence it saw, a reply's finish) that Redis does not take is given the next seq here,
/// handed to this node's members at once, and written later, in order, with that same seq.
/// <list type="bullet">
/// <item>Only rooms this node watches (it has members there, so it knows their last seq) are held back;
/// elsewhere the write fails as "temporarily unavailable".</item>
/// <item>While a room has held-back writes, other writes to it are refused, so seqs stay in order.</item>
/// <item>When a held-back write finds Redis moved on (another node wrote to the room meanwhile), it
/// takes the next seq there instead ("Renumbered" in the log): this node's members then hold the event
/// under its provisional seq and may see a delta twice after they resume; other nodes' members see it once.</item>
/// <item>A held write that had in fact run (the call that timed out reached Redis) is recognised by the
/// script and not written twice; so is a flush whose answer was lost (Redis took it, then timed out),
/// retried under the same write id.</item>
/// </list>
/// </summary>
internal sealed class RedisWriteBehind(RedisScriptInvoker scripts, RoomSubscriptions subscriptions, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan FlushRetry = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<string, Backlog> _backlogs = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private Task? _flusher;

    public bool HasBacklog(string roomId)
    {
        lock (_lock)
        {
            return _backlogs.ContainsKey(roomId);
        }
    }

    /// <summary>
    /// Writes the event (with <paramref name="script"/>): returns the event as held back (null when
    /// Redis took it at once) and the script's result once it is written.
    /// </summary>
    public async Task<(RoomEvent? Held, Task<RedisResult> Written)> WriteAsync(RoomEvent roomEvent, string operation, LuaScript script, IWriteArgs args)
    {
        var roomId = roomEvent.RoomId;
        var attempted = false;
        if (!HasBacklog(roomId))
        {
            attempted = true;
            try
            {
                var result = await scripts.EvaluateAsync(operation, script, args);
                if (RoomScripts.IsAppend(script))
                {
                    subscriptions.Saw(roomId, (long)result);
                }

                return (null, Task.FromResult(result));
            }
            catch (Exception ex) when (RedisScriptInvoker.IsUnreachable(ex))
            {
                if (subscriptions.LastSeq(roomId) == 0)
                {
                    throw RedisScriptInvoker.Unavailable();
                }

                RedisLog.HoldingBack(logger, roomId, ex.GetType().Name);
            }
        }

        return HoldBack(roomEvent, operation, script, args, attempted);
    }

    private (RoomEvent Held, Task<RedisResult> Written) HoldBack(RoomEvent roomEvent, string operation, LuaScript script, IWriteArgs args, bool attempted)
    {
        var roomId = roomEvent.RoomId;
        lock (_lock)
        {
            if (!_backlogs.TryGetValue(roomId, out var backlog))
            {
                backlog = new Backlog(subscriptions.LastSeq(roomId) + 1);
                _backlogs[roomId] = backlog;
            }

            var held = roomEvent.Numbered(backlog.NextSeq++);
            args.Expect = held.Seq;
            args.MayHaveRun = attempted ? "1" : "0";
            args.WriteId = Guid.NewGuid().ToString("N");
            var pending = new Pending(held.Seq, operation, script, args);
            backlog.Items.Enqueue(pending);

            // Inside the lock: this node's members get held-back events in seq order.
            subscriptions.HandOut(held);
            _flusher ??= Task.Run(FlushAsync);
            return (held, pending.Written.Task);
        }
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            string roomId;
            Pending next;
            lock (_lock)
            {
                var waiting = _backlogs.FirstOrDefault();
                if (waiting.Value is null)
                {
                    _flusher = null;
                    return;
                }

                roomId = waiting.Key;
                next = waiting.Value.Items.Peek();
            }

            RedisResult result;
            try
            {
                next.Args.Now = time.GetUtcNow().ToUnixTimeMilliseconds();
                result = await scripts.EvaluateAsync(next.Operation, next.Script, next.Args);
            }
            catch (Exception ex) when (RedisScriptInvoker.IsUnreachable(ex))
            {
                RedisLog.FlushWaiting(logger, roomId, next.Seq, ex.Message);
                await Task.Delay(FlushRetry);
                continue;
            }
            catch (Exception ex)
            {
                RedisLog.FlushFailed(logger, roomId, next.Seq, ex);
                Done(roomId);
                next.Written.TrySetException(ex);
                continue;
            }

            if (RoomScripts.IsAppend(next.Script) && (long)result != next.Seq)
            {
                RedisLog.Renumbered(logger, roomId, next.Seq, (long)result);
            }

            Done(roomId);
            next.Written.TrySetResult(result);
        }

        void Done(string roomId)
        {
            lock (_lock)
            {
                var backlog = _backlogs[roomId];
                backlog.Items.Dequeue();
                if (backlog.Items.Count == 0)
                {
                    _backlogs.Remove(roomId);
                }
            }
        }
    }

    private sealed class Backlog(long nextSeq)
    {
        public long NextSeq { get; set; } = nextSeq;

        public Queue<Pending> Items { get; } = new();
    }

    private sealed record Pending(long Seq, string Operation, LuaScript Script, IWriteArgs Args)
    {
        public TaskCompletionSource<RedisResult> Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
