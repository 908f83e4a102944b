using SignalRChat.Client;
using SignalRChat.Contracts;

namespace SignalRChat.Tests;

/// <summary>The .NET client's bookkeeping of a reply's text (a room's position: <see cref="RoomTrackerCaseTests"/>).</summary>
public sealed class ClientTrackingTests
{
    private static TokenEvent Token(long seq, string text, long? firstSeq = null) => new("room", "g1", text) { Seq = seq, FirstSeq = firstSeq };

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
