using SignalRChat.Server.Tools;

namespace SignalRChat.Tests.Providers;

/// <summary>The whole answer of a summary request is judged against the fixed schema.</summary>
public sealed class RoomSummaryParseTests
{
    [Theory]
    [InlineData("", "the answer was empty")]
    [InlineData("{\"topic\":\"a\",\"participants\":[", "the answer was not valid JSON")]
    [InlineData("[1,2]", "the answer was not a JSON object")]
    [InlineData("{\"topic\":\"\",\"participants\":[],\"keyPoints\":[],\"openQuestions\":[]}", "'topic' must be a non-empty string")]
    [InlineData("{\"topic\":\"a\",\"participants\":\"alice\",\"keyPoints\":[],\"openQuestions\":[]}", "'participants' must be an array of strings")]
    [InlineData("{\"topic\":\"a\",\"participants\":[],\"keyPoints\":[],\"openQuestions\":[]", "the answer was not valid JSON")]
    [InlineData("{\"topic\":\"a\",\"participants\":[],\"keyPoints\":[]}", "'openQuestions' must be an array of strings")]
    [InlineData("{\"topic\":\"a\",\"participants\":[],\"keyPoints\":[],\"openQuestions\":[],\"mood\":\"ok\"}", "unexpected property 'mood'")]
    public void Invalid_answers_are_refused_with_the_reason(string answer, string reason)
    {
        Assert.False(RoomSummary.TryParse(answer, out var summary, out var why));
        Assert.Null(summary);
        Assert.Equal(reason, why);
    }

    [Fact]
    public void A_valid_answer_in_a_code_fence_is_read()
    {
        const string answer = "```json\n{\"topic\":\"release\",\"participants\":[\"alice\"],\"keyPoints\":[\"friday\"],\"openQuestions\":[]}\n```";

        Assert.True(RoomSummary.TryParse(answer, out var summary, out _));
        Assert.Equal("release", summary!.Topic);
        Assert.Equal(["alice"], summary.Participants);
        Assert.Equal("""{"topic":"release","participants":["alice"],"keyPoints":["friday"],"openQuestions":[]}""", summary.ToJson());
    }
}
