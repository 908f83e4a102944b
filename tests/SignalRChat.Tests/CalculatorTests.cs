using SignalRChat.Server.Tools;

namespace SignalRChat.Tests;

public sealed class CalculatorTests
{
    [Theory]
    [InlineData("17*23", "391")]
    [InlineData("1 + 2 * 3", "7")]
    [InlineData("(1 + 2) * 3", "9")]
    [InlineData("2^3^2", "512")]
    [InlineData("-2^2", "-4")]
    [InlineData("10 % 4", "2")]
    [InlineData("7 / 2", "3.5")]
    [InlineData("0.1 + 0.2", "0.3")]
    [InlineData("((((3))))", "3")]
    [InlineData("- -5", "5")]
    [InlineData("2^-1", "0.5")]
    public void Evaluates_arithmetic(string expression, string expected) =>
        Assert.Equal(expected, ExpressionEvaluator.Format(ExpressionEvaluator.Evaluate(expression)));

    [Theory]
    [InlineData("1/0", "division by zero")]
    [InlineData("5 % 0", "division by zero")]
    [InlineData("", "empty")]
    [InlineData("2 +", "ends too early")]
    [InlineData("(1 + 2", "missing ')'")]
    [InlineData("1 + 2)", "unexpected ')'")]
    [InlineData("Math.Exp(1)", "unexpected 'M'")]
    [InlineData("1..2", "not a number")]
    [InlineData("10^400", "not a finite number")]
    public void Explains_bad_input(string expression, string reason)
    {
        var error = Assert.Throws<ToolException>(() => ExpressionEvaluator.Evaluate(expression));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Refuses_deep_nesting_and_long_input()
    {
        Assert.Contains("nested too deeply", Assert.Throws<ToolException>(() => ExpressionEvaluator.Evaluate(new string('(', 100) + "1" + new string(')', 100))).Message);
        Assert.Contains("too long", Assert.Throws<ToolException>(() => ExpressionEvaluator.Evaluate(string.Join("+", Enumerable.Repeat("1", 400)))).Message);
    }
}
