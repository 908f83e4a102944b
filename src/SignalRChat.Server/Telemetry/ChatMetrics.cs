using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SignalRChat.Server.Telemetry;

/// <summary>
/// Every metric of the service, on the meter <c>SignalRChat</c>. Instruments are created once here
/// so that their names, units and descriptions live in one file.
/// </summary>
internal sealed class ChatMetrics
{
    public const string MeterName = "SignalRChat";

    private readonly UpDownCounter<long> _roomsWithMembers;
    private readonly UpDownCounter<long> _activeGenerations;
    private readonly UpDownCounter<long> _queuedGenerations;
    private readonly Counter<long> _tokens;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _cancelLatency;
    private readonly Histogram<double> _redisLatency;
    private readonly Counter<long> _coalescedTokens;
    private readonly Counter<long> _slowReaderDisconnects;
    private readonly Counter<long> _chainedFlushes;

    public ChatMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _roomsWithMembers = meter.CreateUpDownCounter<long>("signalrchat.rooms.active", "{room}", "Rooms with at least one member connected to this node");
        _activeGenerations = meter.CreateUpDownCounter<long>("signalrchat.generations.active", "{generation}", "Replies being generated on this node");
        _queuedGenerations = meter.CreateUpDownCounter<long>("signalrchat.generations.queued", "{generation}",
            "Replies waiting for their room's running reply (with Redis: summed over all nodes)");
        _tokens = meter.CreateCounter<long>("signalrchat.tokens", "{token}", "Token deltas streamed into rooms; its rate is tokens per second");
        _timeToFirstToken = meter.CreateHistogram<double>("signalrchat.generation.time_to_first_token", "ms", "From a reply's start to its first token");
        _cancelLatency = meter.CreateHistogram<double>("signalrchat.generation.cancel_latency", "ms", "From a Stop to the reply's cancelled status being appended");
        _redisLatency = meter.CreateHistogram<double>("signalrchat.redis.duration", "ms", "Duration of one room-script call to Redis");
        _coalescedTokens = meter.CreateCounter<long>("signalrchat.fanout.coalesced_tokens", "{event}",
            "Token events joined into a waiting one: for a reader (hub connection or HTTP stream) that fell behind (where=reader), or for the whole room when the model outpaced its delivery (where=room)");
        _slowReaderDisconnects = meter.CreateCounter<long>("signalrchat.fanout.slow_reader_disconnects", "{connection}",
            "Hub connections and HTTP streams closed because their reader fell too far behind (their queued events were dropped)");
        _chainedFlushes = meter.CreateCounter<long>("signalrchat.transport.chained_flushes", "{flush}",
            "Writes to a hub connection (a message, or a stateful-reconnect ack) that waited behind an earlier write still waiting for the client's socket");
    }

    /// <summary>Hub connections, read from the node's connection registry when metrics are collected.</summary>
    public void ObserveConnections(Func<int> count) =>
        _ = _tokens.Meter.CreateObservableUpDownCounter("signalrchat.connections", () => count(), "{connection}", "Open hub connections on this node");

    public void RoomActivated() => _roomsWithMembers.Add(1);

    public void RoomDeactivated() => _roomsWithMembers.Add(-1);

    public void GenerationStarted() => _activeGenerations.Add(1);

    public void GenerationEnded() => _activeGenerations.Add(-1);

    public void GenerationQueued() => _queuedGenerations.Add(1);

    public void GenerationDequeued() => _queuedGenerations.Add(-1);

    public void Token() => _tokens.Add(1);

    public void FirstToken(TimeSpan afterStart) => _timeToFirstToken.Record(afterStart.TotalMilliseconds);

    /// <summary>Records the time since the Stop that cancelled a generation (a <see cref="Stopwatch"/> timestamp), if there was one.</summary>
    public void Cancelled(long requestedAt)
    {
        if (requestedAt != 0)
        {
            _cancelLatency.Record(Stopwatch.GetElapsedTime(requestedAt).TotalMilliseconds);
        }
    }

    public void TokenCoalesced() => _coalescedTokens.Add(1, new KeyValuePair<string, object?>("where", "reader"));

    public void TokensJoined(int count) => _coalescedTokens.Add(count, new KeyValuePair<string, object?>("where", "room"));

    public void SlowReaderDisconnected() => _slowReaderDisconnects.Add(1);

    public void FlushChained() => _chainedFlushes.Add(1);

    /// <summary>Times a Redis call, tagged with the room-script operation and whether it failed.</summary>
    public async Task<T> TimeRedisAsync<T>(string operation, Task<T> call)
    {
        var started = Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            _redisLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("error", failed));
        }
    }
}
