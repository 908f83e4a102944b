using SignalRChat.Client;
using SignalRChat.Contracts;

namespace SignalRChat.Tests;

/// <summary>The .NET client's bookkeeping of a room's position and of a reply's text.</summary>
public sealed class ClientTrackingTests
{
    private static TokenEvent Token(long seq, string text, long? firstSeq = null) => new("room", "g1", text) { Seq = seq, FirstSeq = firstSeq };

    [Fact]
    public void A_joined_run_that_starts_before_the_position_is_a_gap_not_applied_twice()
    {
        var room = new RoomTracker();
        room.BeginJoin();
        Assert.False(room.CompleteJoin(5).Gap);

        Assert.Equal(Arrival.Gap, room.Accept(Token(8, "cdef", firstSeq: 4)));
        Assert.Equal(5, room.LastSeq);
        Assert.Equal(Arrival.New, room.Accept(Token(8, "fgh", firstSeq: 6)));
        Assert.Equal(Arrival.Duplicate, room.Accept(Token(8, "fgh", firstSeq: 6)));
    }

    [Fact]
    public void Events_during_a_rejoin_wait_for_its_snapshot_and_a_held_run_across_it_asks_for_a_resume()
    {
        var room = new RoomTracker();
        room.BeginJoin();
        room.CompleteJoin(3);

        room.BeginJoin();
        Assert.Equal(Arrival.Held, room.Accept(Token(11, "k")));
        Assert.Equal(Arrival.Held, room.Accept(Token(10, "j")));
        var (ready, gap) = room.CompleteJoin(9);
        Assert.Equal([10L, 11L], ready.Select(e => e.Seq));
        Assert.False(gap);

        room.BeginJoin();
        room.Accept(Token(14, "lmno", firstSeq: 11));
        (ready, gap) = room.CompleteJoin(12);
        Assert.Empty(ready);
        Assert.True(gap);
        Assert.Equal(12, room.LastSeq);
    }

    [Fact]
    public void A_final_status_without_text_gets_the_text_the_client_saw_only_when_it_saw_all_of_it()
    {
        var followed = new ReplyState();
        followed.Apply(new StatusEvent("room", "g1", GenerationStates.Thinking) { Seq = 1 });
        followed.Apply(Token(2, "Hello "));
        followed.Apply(Token(3, "there"));
        Assert.Equal("Hello there", ((StatusEvent)followed.Apply(new StatusEvent("room", "g1", GenerationStates.Completed) { Seq = 4 })).Text);

        var joinedMidway = new ReplyState();
        joinedMidway.Restart("Hello ");
        joinedMidway.Apply(Token(3, "there"));
        Assert.Equal("Hello there", ((StatusEvent)joinedMidway.Apply(new StatusEvent("room", "g1", GenerationStates.Completed) { Seq = 4 })).Text);

        // Taken up by a bare Resume in the middle: the start is unknown, so the text is not made up.
        var resumedMidway = new ReplyState();
        resumedMidway.Apply(Token(3, "there"));
        Assert.Null(((StatusEvent)resumedMidway.Apply(new StatusEvent("room", "g1", GenerationStates.Completed) { Seq = 4 })).Text);

        // A final status that carries its text keeps it.
        var full = new ReplyState();
        Assert.Equal("all", ((StatusEvent)full.Apply(new StatusEvent("room", "g1", GenerationStates.Failed, Text: "all") { Seq = 2 })).Text);
    }
}
