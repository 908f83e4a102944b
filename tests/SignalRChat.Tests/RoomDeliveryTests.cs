using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Contracts;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Rooms;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>An event appended in memory reaches the room's subscribers from the appending thread, once the room's lock is let go.</summary>
public sealed class RoomDeliveryTests
{
    private sealed class ProbingSubscriber(InMemoryRoomStore store, string roomId) : IRoomSubscriber
    {
        public string Id => "probe";

        public TaskCompletionSource<(int Thread, bool RoomReadable, long Seq)> Delivered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Deliver(OutgoingEvent outgoing)
        {
            if (outgoing.Event is not TokenEvent token)
            {
                return;
            }

            // Another thread reads the room: it can only while nothing here holds the room's lock.
            var read = Task.Run(async () => await store.GetSnapshotAsync(roomId));
            Delivered.TrySetResult((Environment.CurrentManagedThreadId, read.Wait(TimeSpan.FromSeconds(10)), token.Seq));
        }

        public void Seal()
        {
        }
    }

    /// <summary>Until the room's loop has nothing queued or under way, so the next post wakes it afresh.</summary>
    private static void WaitUntilTheLoopWaits(RoomFanout fanout, string roomId) =>
        Assert.True(SpinWait.SpinUntil(() => fanout.IsWaiting(roomId), TimeSpan.FromSeconds(30)), "the room's loop never went back to waiting");

    private sealed class ChannelProbe : IRoomSubscriber
    {
        public string Id => "channel-probe";

        public TaskCompletionSource<(bool HandedOutHere, long Seq)> Delivered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Deliver(OutgoingEvent outgoing)
        {
            if (outgoing.Event is PresenceEvent { UserId: "carol" } presence)
            {
                // Inside the scope the channel's reader opened: the room's loop ran on that thread, not after a trip through the pool.
                Delivered.TrySetResult((WakeAfterLock.InScope, presence.Seq));
            }
        }

        public void Seal()
        {
        }
    }

    [Fact]
    public async Task With_Redis_an_event_read_from_the_rooms_channel_is_delivered_by_the_channels_reader()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var nodeA = await ChatServer.StartAsync(redis.NodeSettings());
        await using var nodeB = await ChatServer.StartAsync(redis.NodeSettings());
        var fanoutB = nodeB.Services.GetRequiredService<RoomFanout>();
        var probe = new ChannelProbe();
        var snapshot = await fanoutB.AttachAsync("channel", probe);
        WaitUntilTheLoopWaits(fanoutB, "channel");

        var appended = await nodeA.Services.GetRequiredService<IRoomStore>().AppendAsync(new PresenceEvent("channel", "carol", "Carol", "joined"));
        var delivered = await probe.Delivered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(snapshot.LastSeq + 1, appended.Seq);
        Assert.Equal(appended.Seq, delivered.Seq);
        Assert.True(delivered.HandedOutHere, "the room's loop ran on another thread than the channel's reader");

        // Members on both nodes get what follows, in order.
        var alice = await nodeA.ConnectAsync("alice");
        var bob = await nodeB.ConnectAsync("bob");
        var aliceLog = new EventLog(alice);
        var bobLog = new EventLog(bob);
        var aliceJoined = await alice.JoinRoomAsync("channel");
        var bobJoined = await bob.JoinRoomAsync("channel");
        var reply = await alice.AskAsync("channel", "hello");
        await aliceLog.WaitForFinalAsync(reply.GenerationId);
        await bobLog.WaitForFinalAsync(reply.GenerationId);
        StreamingTests.AssertContiguous(aliceLog.Events, aliceJoined.LastSeq);
        StreamingTests.AssertContiguous(bobLog.Events, bobJoined.LastSeq);
        fanoutB.Detach("channel", probe.Id);
    }

    [Fact]
    public async Task An_appended_delta_is_delivered_by_the_appending_thread_outside_the_rooms_lock_and_the_room_goes_on()
    {
        await using var server = await ChatServer.StartAsync();
        var store = server.Services.GetRequiredService<InMemoryRoomStore>();
        var fanout = server.Services.GetRequiredService<RoomFanout>();
        var probe = new ProbingSubscriber(store, "inline");
        var snapshot = await fanout.AttachAsync("inline", probe);

        // The run that handled the attach may still be finishing on the pool; an append then is taken by that run.
        WaitUntilTheLoopWaits(fanout, "inline");

        // A thread of its own, so that which thread delivered is plain to see.
        var appended = new TaskCompletionSource<(int Thread, long Seq)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                var roomEvent = store.AppendAsync(new TokenEvent("inline", "g1", "hello")).AsTask().GetAwaiter().GetResult();
                appended.TrySetResult((Environment.CurrentManagedThreadId, roomEvent.Seq));
            }
            catch (Exception ex)
            {
                appended.TrySetException(ex);
            }
        });
        thread.Start();

        var (appender, seq) = await appended.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var delivered = await probe.Delivered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(snapshot.LastSeq + 1, seq);
        Assert.Equal(seq, delivered.Seq);
        Assert.Equal(appender, delivered.Thread);
        Assert.True(delivered.RoomReadable, "the delivery ran while the room's lock was held");

        // Members joined through the hub get what follows, in order.
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        var joined = await alice.JoinRoomAsync("inline");
        var reply = await alice.AskAsync("inline", "hello");
        await log.WaitForFinalAsync(reply.GenerationId);
        StreamingTests.AssertContiguous(log.Events, joined.LastSeq);
        fanout.Detach("inline", probe.Id);
    }
}
