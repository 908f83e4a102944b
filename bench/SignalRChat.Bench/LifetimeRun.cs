using System.Globalization;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Contracts;
using StackExchange.Redis;

namespace SignalRChat.Bench;

/// <summary>
/// The room-lifetime scenarios, printed rather than written to the report: "room churn" (join/leave
/// cycles of fresh rooms by four users, then one idle period: node memory and, with Redis, key count
/// before, at the peak and after) and "resume under load" (a resume of 1,000 events in a room of 100
/// streaming members: their token p99 with and without it).
/// </summary>
internal static class LifetimeRun
{
    private static readonly TimeSpan IdleTime = TimeSpan.FromSeconds(5);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public static async Task<int> RunAsync(string[] args, Action<string> log)
    {
        var cyclesAt = Array.IndexOf(args, "--cycles");
        var cycles = cyclesAt >= 0 ? int.Parse(args[cyclesAt + 1], CultureInfo.InvariantCulture) : 100_000;
        if (!args.Contains("--resume-only"))
        {
            await RoomChurnAsync(cycles, null, log);
            if (args.Contains("--memory-only"))
            {
                return 0;
            }

            await using var redis = await RedisServer.StartAsync();
            await RoomChurnAsync(cycles, redis.ConnectionString, log);
        }

        await ResumeUnderLoadAsync(null, log);
        await using (var redis = await RedisServer.StartAsync())
        {
            await ResumeUnderLoadAsync(redis.ConnectionString, log);
        }

        return 0;
    }

    private static async Task RoomChurnAsync(int cycles, string? redis, Action<string> log)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Chat:Limits:RoomsCreatedPerHour"] = "100000000",
            ["Chat:Limits:MembershipChangesPerMinute"] = "100000000",
            ["Chat:Rooms:IdleTime"] = IdleTime.ToString(),
        };
        if (redis is not null)
        {
            settings["ConnectionStrings:Redis"] = redis;
        }

        await using var node = await ChildServer.StartAsync("chat", settings);
        using var admin = redis is null ? null : await ConnectionMultiplexer.ConnectAsync(redis + ",allowAdmin=true");
        async Task<string> MeasureAsync()
        {
            var stats = (await Http.GetFromJsonAsync<MemoryStats>(new Uri(node.Url, "/bench/stats")))!;
            var returned = (await Http.GetFromJsonAsync<MemoryStats>(new Uri(node.Url, "/bench/stats?aggressive")))!;
            var keys = admin is null ? string.Empty : $", {await admin.GetServer(admin.GetEndPoints()[0]).DatabaseSizeAsync():N0} Redis keys";
            return $"RSS {stats.WorkingSet / 1048576.0:F0} MB ({returned.WorkingSet / 1048576.0:F0} MB once the collector returns its reserve), " +
                $"managed heap {stats.ManagedHeap / 1048576.0:F1} MB, committed by the collector {returned.Committed / 1048576.0:F0} MB, {returned.Threads} threads{keys}";
        }

        var chat = new ChatService([node.Url]);
        var users = new List<Member>();
        for (var u = 0; u < 4; u++)
        {
            users.Add(await chat.ConnectAsync(0, $"churn{u}"));
        }

        // A warm-up first (a small churn and its idle period), so "before" already holds the compiled code and pools the run needs.
        await ChurnAsync(users, "warm", Math.Min(cycles, 2_000));
        await Task.Delay(IdleTime * 2);
        log($"room churn{(redis is null ? string.Empty : ", Redis")}: {cycles:N0} join/leave cycles of fresh rooms by 4 users");
        log($"  before (after a warm-up of 2,000 cycles and one idle period): {await MeasureAsync()}");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await ChurnAsync(users, "churn", cycles);
        log($"  peak ({watch.Elapsed.TotalSeconds:F1} s): {await MeasureAsync()}");

        // One idle period and the sweep that follows it (a quarter of it), with room to spare; on a busy machine the
        // sweep of 100,000 rooms takes longer, so wait on until the heap stops falling (at most a minute more).
        await Task.Delay(IdleTime * 2);
        var waited = IdleTime * 2;
        var heap = (await Http.GetFromJsonAsync<MemoryStats>(new Uri(node.Url, "/bench/stats")))!.ManagedHeap;
        while (waited < IdleTime * 14)
        {
            await Task.Delay(IdleTime);
            waited += IdleTime;
            var now = (await Http.GetFromJsonAsync<MemoryStats>(new Uri(node.Url, "/bench/stats")))!.ManagedHeap;
            if (heap - now < 1 << 20)
            {
                break;
            }

            heap = now;
        }

        log($"  after one idle period ({IdleTime.TotalSeconds:F0} s, waited {waited.TotalSeconds:F0} s): {await MeasureAsync()}");
        foreach (var member in users)
        {
            await member.DisposeAsync();
        }
    }

    private static Task ChurnAsync(List<Member> users, string prefix, int cycles) =>
        Task.WhenAll(users.Select((member, u) => Task.Run(async () =>
        {
            for (var i = u; i < cycles; i += users.Count)
            {
                var room = $"{prefix}-{i}";
                await member.Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, room);
                await member.Connection.InvokeAsync(ChatProtocol.Methods.LeaveRoom, room);
            }
        })));

    private static async Task ResumeUnderLoadAsync(string? redis, Action<string> log)
    {
        await using var node = await ChatNode.StartAsync(redis is null ? null : new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis });
        var chat = new ChatService([node.Url]);
        const string room = "resume-load";
        var members = new Member[100];
        await Parallel.ForAsync(0, members.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            members[i] = await chat.ConnectAsync(0, $"member{i}");
            await chat.JoinAsync(members[i], room);
        });
        var resumer = await chat.ConnectAsync(0, "resumer");
        await chat.JoinAsync(resumer, room);

        // More than a thousand events in the log first (deltas the model yields at once may share one event).
        while ((await resumer.Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, room)).LastSeq < 1100)
        {
            await RunAsync(chat, members, room, BenchModel.Request(1100, 1), null);
        }

        log($"resume under load{(redis is null ? string.Empty : ", Redis")}: 100 streaming members, a reply of 400 tokens at 5 ms, a resume of 1,000 events every 100 ms meanwhile");
        var without = await RunAsync(chat, members, room, BenchModel.Request(400, 5), null);
        var resumes = 0;
        var with = await RunAsync(chat, members, room, BenchModel.Request(400, 5), async stop =>
        {
            while (!stop.IsCancellationRequested)
            {
                var snapshot = await resumer.Connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, room);
                var result = await resumer.Connection.InvokeAsync<ResumeResult>(ChatProtocol.Methods.Resume, room, snapshot.LastSeq - 1000);
                if (!result.Reset)
                {
                    resumes++;
                }

                try
                {
                    await Task.Delay(100, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
        var p99Without = Stats.Percentile(without.Latencies, 99);
        var p99With = Stats.Percentile(with.Latencies, 99);
        log($"  token p99 without a resume {p99Without:F2} ms, during resumes {p99With:F2} ms ({resumes} resumes of 1,000 events): {p99With / p99Without:F2}x");
        foreach (var member in members.Append(resumer))
        {
            await member.DisposeAsync();
        }
    }

    private static async Task<Recorder> RunAsync(ChatService chat, Member[] members, string room, string request, Func<CancellationToken, Task>? meanwhile)
    {
        var tokens = int.Parse(request.Split(' ')[1]["tokens=".Length..], CultureInfo.InvariantCulture);
        var recorder = new Recorder(members.Length * (tokens + 1));
        foreach (var member in members)
        {
            member.Arm(recorder, reachAt: 20);
        }

        await chat.StartAsync(members[0], room, request);
        using var stop = new CancellationTokenSource();
        Task? side = null;
        if (meanwhile is not null)
        {
            await members[0].Reached;
            side = meanwhile(stop.Token);
        }

        await Task.WhenAll(members.Select(m => m.Final)).WaitAsync(TimeSpan.FromMinutes(2));
        await stop.CancelAsync();
        if (side is not null)
        {
            await side;
        }

        return recorder;
    }
}
