using System.Diagnostics.Metrics;
using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>Deltas that wait together in a room go out as one event: same text, same order, every seq covered.</summary>
public sealed class TokenRunTests
{
    private static TokenEvent Token(long seq, string text, string generation = "g1") => new("room", generation, text) { Seq = seq };

    [Fact]
    public void A_run_takes_only_the_contiguous_deltas_of_one_generation()
    {
        var inbox = new ConcurrentQueue<object>();
        foreach (var item in new object[] { Token(11, "b"), Token(12, "c"), Token(13, "x", "g2"), Token(14, "d") })
        {
            inbox.Enqueue(item);
        }

        var run = TokenRun.Take(Token(10, "a"), inbox);

        Assert.Equal(3, run.Count);
        var joined = run.Joined();
        Assert.Equal(("abc", 10L, 12L), (joined.Text, joined.FirstSeq!.Value, joined.Seq));
        Assert.True(inbox.TryDequeue(out var left) && left is TokenEvent { GenerationId: "g2" }, "the other generation's delta was taken into the run");

        // A member whose stream starts inside the run gets just the rest; at its last delta, that delta alone.
        var rest = run.After(10);
        Assert.Equal(("bc", 11L, 12L), (rest.Text, rest.FirstSeq!.Value, rest.Seq));
        var last = run.After(11);
        Assert.Equal(("c", null, 12L), (last.Text, last.FirstSeq, last.Seq));
    }

    [Fact]
    public void A_run_stops_at_a_gap_and_at_its_bound()
    {
        var inbox = new ConcurrentQueue<object>();
        inbox.Enqueue(Token(3, "skipped a seq"));
        Assert.Equal(1, TokenRun.Take(Token(1, "a"), inbox).Count);

        inbox = new ConcurrentQueue<object>();
        for (var seq = 2; seq <= TokenRun.MaxTokens + 10; seq++)
        {
            inbox.Enqueue(Token(seq, "t"));
        }

        Assert.Equal(TokenRun.MaxTokens, TokenRun.Take(Token(1, "t"), inbox).Count);
    }

    [Fact]
    public void A_waiting_reader_joins_only_the_delta_right_after_its_run_and_nothing_across_a_seal()
    {
        var queue = new OutboundQueue();
        Assert.False(queue.Enqueue(new OutgoingEvent(Token(5, "e"))));
        Assert.True(queue.Enqueue(new OutgoingEvent(Token(6, "f"))));

        // A resume re-sends earlier deltas: they queue on their own instead of joining out of order.
        Assert.False(queue.Enqueue(new OutgoingEvent(Token(3, "c"))));
        Assert.True(queue.Enqueue(new OutgoingEvent(Token(4, "d"))));
        queue.Seal();
        Assert.False(queue.Enqueue(new OutgoingEvent(Token(5, "e"))));

        var sent = new List<TokenEvent>();
        while (queue.Count > 0)
        {
            sent.Add((TokenEvent)queue.Dequeue().Event);
        }

        Assert.Equal([("ef", 5L, 6L), ("cd", 3L, 4L), ("e", 5L, 5L)], sent.Select(t => (t.Text, t.FirstCoveredSeq, t.Seq)));
    }

    [Fact]
    public async Task A_model_faster_than_the_room_reaches_every_member_joined_whole_and_in_order()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            // Every delta its own event in the room's log, so that what joins them is the room's delivery.
            ["Chat:Fanout:JoinGap"] = "0",
            ["Chat:Offline:TokenDelayMs"] = "0",
            ["Chat:Offline:ReplyTokens"] = "5000",
            ["Chat:Model:MaxOutputTokens"] = "10000",
        });
        using var metrics = new MetricRecorder(server.Services.GetRequiredService<IMeterFactory>());
        var members = new List<(EventLog Log, long From)>();
        var alice = await server.ConnectAsync("alice");
        members.Add((new EventLog(alice), (await alice.JoinRoomAsync("burst")).LastSeq));
        for (var i = 0; i < 3; i++)
        {
            var member = await server.ConnectAsync($"member{i}");
            members.Add((new EventLog(member), (await member.JoinRoomAsync("burst")).LastSeq));
        }

        var reply = await alice.AskAsync("burst", "as fast as you can");
        foreach (var (log, from) in members)
        {
            var final = await log.WaitForFinalAsync(reply.GenerationId, TimeSpan.FromSeconds(60));
            Assert.Equal(final.Text, log.TextOf(reply.GenerationId));
            Assert.Equal(5000, log.TokenCount(reply.GenerationId));
            StreamingTests.AssertContiguous(log.Events, from);
        }

        // The model outpaced the room's delivery, so deltas went out joined, and were counted.
        Assert.Contains(members.SelectMany(m => m.Log.Events).OfType<TokenEvent>(), t => t.FirstSeq is not null);
        await metrics.WaitForAsync("signalrchat.fanout.coalesced_tokens", all => all.Sum(m => m.Value) > 0);
    }
}
