using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>A room's event log is trimmed by age on the room sweep's timer, not only when something is appended.</summary>
public sealed class EventLogTrimTests
{
    [Fact]
    public async Task A_quiet_room_lets_its_old_events_go_on_the_timer_and_a_resume_from_before_them_answers_reset()
    {
        await using var server = await ChatServer.StartAsync(new Dictionary<string, string?>
        {
            ["Chat:Rooms:EventLogMaxAge"] = "00:00:00.5",
            ["Chat:Rooms:IdleTime"] = "00:00:02",
        });
        var alice = await server.ConnectAsync("alice");
        var log = new EventLog(alice);
        await alice.JoinRoomAsync("quiet");
        var reply = await alice.SendMessageAsync("quiet", "hello");
        var final = await log.WaitForFinalAsync(reply.GenerationId!);

        // Nothing is appended from here on; only the sweep can let the events go. Alice stays, so the room stays loaded.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        ResumeResult resumed;
        while (!(resumed = await alice.ResumeAsync("quiet", 0)).Reset)
        {
            await Task.Delay(100, deadline.Token);
        }

        Assert.Equal(final.Seq, resumed.ToSeq);

        // The history is kept: only the resume window is trimmed.
        var snapshot = await alice.JoinRoomAsync("quiet");
        Assert.Contains(snapshot.Messages, m => m.MessageId == final.MessageId && m.State == MessageStates.Completed);
    }
}
