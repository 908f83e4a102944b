using System.Collections.Concurrent;
using SignalRChat.Contracts;
using SignalRChat.Server.Approvals;
using StackExchange.Redis;

namespace SignalRChat.Server.Redis;

/// <summary>
/// Approvals shared by every node. Each is a hash in Redis; a decision is one script that changes it only while it is
/// pending (so the first decision wins across nodes, an expiry included) and publishes it on the approvals channel,
/// where the node whose reply waits for it hears it.
/// </summary>
internal sealed class RedisToolApprovals(IConnectionMultiplexer redis, TimeProvider time) : IToolApprovals
{
    private static readonly TimeSpan Keep = TimeSpan.FromDays(1);

    private static readonly LuaScript Decide = LuaScript.Prepare("""
        if redis.call('HGET', @key, 'state') ~= 'pending' then return 0 end
        redis.call('HSET', @key, 'state', @state, 'by', @by, 'name', @name)
        redis.call('PUBLISH', @channel, @message)
        return 1
        """);

    private readonly ConcurrentDictionary<string, TaskCompletionSource<ApprovalDecision>> _waiting = new(StringComparer.Ordinal);
    private Task? _subscribed;

    public async Task OpenAsync(string approvalId, string roomId, CancellationToken cancellationToken)
    {
        await (_subscribed ??= SubscribeAsync());
        _waiting[approvalId] = new TaskCompletionSource<ApprovalDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        var key = RedisKeys.Approval(approvalId);
        var batch = redis.GetDatabase().CreateBatch();
        var set = batch.HashSetAsync(key, [new("room", roomId), new("state", ApprovalStates.Pending)]);
        var expire = batch.KeyExpireAsync(key, Keep);
        batch.Execute();
        await Task.WhenAll(set, expire);
    }

    public async Task<string?> FindRoomAsync(string approvalId, CancellationToken cancellationToken) =>
        await redis.GetDatabase().HashGetAsync(RedisKeys.Approval(approvalId), "room");

    public async Task<bool> DecideAsync(string approvalId, ApprovalDecision decision, CancellationToken cancellationToken)
    {
        var message = string.Join('\t', approvalId, decision.State, decision.By?.UserId ?? string.Empty, decision.By?.Name ?? string.Empty);
        var result = await redis.GetDatabase().ScriptEvaluateAsync(Decide, new
        {
            key = RedisKeys.Approval(approvalId),
            state = decision.State,
            by = decision.By?.UserId ?? string.Empty,
            name = decision.By?.Name ?? string.Empty,
            channel = RedisKeys.ApprovalChannel.ToString(),
            message,
        });
        return (long)result == 1;
    }

    public async Task<ApprovalDecision> WaitAsync(string approvalId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waiting = _waiting[approvalId];
        try
        {
            return await waiting.Task.WaitAsync(timeout, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            if (await DecideAsync(approvalId, new ApprovalDecision(ApprovalStates.Expired, null), CancellationToken.None))
            {
                return new ApprovalDecision(ApprovalStates.Expired, null);
            }

            // A member's decision got in first; it is in the hash even if its message has not arrived yet.
            return await ReadAsync(approvalId);
        }
        finally
        {
            _waiting.TryRemove(approvalId, out _);
        }
    }

    private async Task<ApprovalDecision> ReadAsync(string approvalId)
    {
        var values = await redis.GetDatabase().HashGetAsync(RedisKeys.Approval(approvalId), ["state", "by", "name"]);
        var by = values[1].IsNullOrEmpty ? null : new RoomMember(values[1]!, values[2]!);
        return new ApprovalDecision(values[0].IsNullOrEmpty ? ApprovalStates.Expired : (string)values[0]!, by);
    }

    private async Task SubscribeAsync()
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisKeys.ApprovalChannel);
        queue.OnMessage(message =>
        {
            var parts = ((string)message.Message!).Split('\t', 4);
            if (parts.Length == 4 && _waiting.TryGetValue(parts[0], out var waiting))
            {
                waiting.TrySetResult(new ApprovalDecision(parts[1], parts[2].Length == 0 ? null : new RoomMember(parts[2], parts[3])));
            }
        });
    }
}
