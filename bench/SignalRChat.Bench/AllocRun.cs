using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace SignalRChat.Bench;

/// <summary>
/// <c>--alloc [--tokens N] [--rooms N] [--pace MS] [--types]</c>: bytes allocated per delta, the chat service against the bare hub that joins waiting
/// deltas, in rooms of one member (<c>--rooms N</c>, one by default), so that almost all of it is the servers' own work per delta (the member gets a
/// handful of joined messages). With <c>--types</c>, the runtime's allocation samples by type (one per ~100 KB). With <c>--redis</c>, each side
/// runs on one node with a Redis of its own (the service's room store, the bare hub's backplane), so every delta makes its trip through Redis.
/// </summary>
internal static class AllocRun
{
    public static async Task<int> RunAsync(string[] args, Action<string> log)
    {
        var tokensAt = Array.IndexOf(args, "--tokens");
        var tokens = tokensAt >= 0 ? int.Parse(args[tokensAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
        var paceAt = Array.IndexOf(args, "--pace");
        var pace = paceAt >= 0 ? int.Parse(args[paceAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 0;
        var roomsAt = Array.IndexOf(args, "--rooms");
        var rooms = roomsAt >= 0 ? int.Parse(args[roomsAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        using var types = args.Contains("--types") ? new AllocationSamples() : null;
        await using var redis = args.Contains("--redis") ? await RedisServer.StartAsync() : null;
        await using var chatNode = await ChatNode.StartAsync(redis is null ? null : new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        await using var baselineNode = await BaselineNode.StartAsync(redis?.ConnectionString);
        var sides = new ServiceUnderTest[] { new BaselineService([baselineNode.Url], "bare hub, joining waiting deltas", joined: true), new ChatService([chatNode.Url]) };
        foreach (var service in sides)
        {
            var members = new List<(Member Member, string Room)>();
            for (var r = 0; r < rooms; r++)
            {
                var member = await service.ConnectAsync(0, $"alloc-{service.Name.Length}-{r}");
                var room = "alloc-" + Guid.NewGuid().ToString("N")[..8];
                await service.JoinAsync(member, room);
                members.Add((member, room));
            }

            try
            {
                for (var warm = 0; warm < 3; warm++)
                {
                    await ReplyAsync(service, members, tokens, pace);
                }

                types?.Start();
                var before = GC.GetTotalAllocatedBytes(precise: true);
                const int replies = 5;
                var messages = 0L;
                for (var i = 0; i < replies; i++)
                {
                    messages += await ReplyAsync(service, members, tokens, pace);
                }

                var perDelta = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)(replies * tokens * (long)rooms);
                log($"{service.Name}: {perDelta:F0} bytes allocated per delta ({replies} × {rooms} replies of {tokens} deltas, {messages / (double)(replies * rooms):F0} token messages a reply)");
                if (types is not null)
                {
                    log(types.Take(30, replies * (long)tokens * rooms));
                }
            }
            finally
            {
                foreach (var (member, _) in members)
                {
                    await member.DisposeAsync();
                }
            }
        }

        return 0;
    }

    private static async Task<long> ReplyAsync(ServiceUnderTest service, List<(Member Member, string Room)> members, int tokens, int pace)
    {
        var recorder = new Recorder(members.Count * (tokens + 1));
        foreach (var (member, _) in members)
        {
            member.Arm(recorder);
        }

        await Task.WhenAll(members.Select(m => service.StartAsync(m.Member, m.Room, BenchModel.Request(tokens, pace))));
        await Task.WhenAll(members.Select(m => m.Member.Final)).WaitAsync(TimeSpan.FromMinutes(2));
        return recorder.Messages;
    }

    /// <summary>The runtime's allocation ticks (one about every 100 KB allocated), summed by type.</summary>
    private sealed class AllocationSamples : EventListener
    {
        private readonly ConcurrentDictionary<string, long> _bytes = new();
        private volatile bool _on;

        public void Start()
        {
            _bytes.Clear();
            _on = true;
        }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!_on || e.EventName != "GCAllocationTick_V4" || e.Payload is null || e.PayloadNames is null)
            {
                return;
            }

            var name = e.PayloadNames.IndexOf("TypeName") is var i and >= 0 ? e.Payload[i] as string ?? "?" : "?";
            var size = e.PayloadNames.IndexOf("AllocationAmount") is var j and >= 0 ? Convert.ToInt64(e.Payload[j], System.Globalization.CultureInfo.InvariantCulture) : 0;
            _bytes.AddOrUpdate(name, size, (_, v) => v + size);
        }

        public string Take(int top, long deltas)
        {
            _on = false;
            return string.Join('\n', _bytes.OrderByDescending(kv => kv.Value).Take(top).Select(kv => $"  {kv.Value / (double)deltas,8:F0} bytes a delta  {kv.Key}"));
        }
    }
}
