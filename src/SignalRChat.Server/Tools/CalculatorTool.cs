using System.Globalization;
using System.Text.Json;

namespace SignalRChat.Server.Tools;

/// <summary>Evaluates arithmetic with a parser (+ - * / ^ %, parentheses, decimals); nothing is ever executed as code.</summary>
public sealed class CalculatorTool : ChatTool
{
    private static readonly JsonElement ParametersJson = Schema("""
        {"type":"object","properties":{"expression":{"type":"string","description":"Arithmetic such as 17*23 or (2+3)^2/5. Operators: + - * / ^ %, parentheses, decimals."}},"required":["expression"],"additionalProperties":false}
        """);

    public const string ToolName = "calculator";

    public override string Name => ToolName;

    public override string Description => "Evaluates an arithmetic expression exactly as written and returns the number.";

    public override JsonElement ParametersSchema => ParametersJson;

    public override async Task<string> RunAsync(ToolArguments arguments, IToolProgress progress, CancellationToken cancellationToken)
    {
        var expression = arguments.RequireString("expression");
        await progress.ReportAsync(0.5, $"evaluating {Shorten(expression)}", cancellationToken);
        var value = ExpressionEvaluator.Evaluate(expression);
        return ExpressionEvaluator.Format(value);
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}

/// <summary>A recursive-descent evaluator for the calculator tool.</summary>
public static class ExpressionEvaluator
{
    public const int MaxLength = 500;
    private const int MaxDepth = 64;

    public static double Evaluate(string expression)
    {
        if (string.IsNullOrWhiteSpace(expression))
        {
            throw new ToolException("the expression is empty");
        }

        if (expression.Length > MaxLength)
        {
            throw new ToolException($"the expression is too long (at most {MaxLength} characters)");
        }

        var parser = new Parser(expression);
        var value = parser.ParseAll();
        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            throw new ToolException("the result is not a finite number");
        }

        return value;
    }

    public static string Format(double value) =>
        Math.Abs(value) < 1e15 && value == Math.Floor(value)
            ? ((long)value).ToString(CultureInfo.InvariantCulture)
            : value.ToString("G15", CultureInfo.InvariantCulture);

    private ref struct Parser(string text)
    {
        private readonly string _text = text;
        private int _pos;
        private int _depth;

        public double ParseAll()
        {
            var value = ParseSum();
            SkipSpaces();
            if (_pos < _text.Length)
            {
                throw new ToolException($"unexpected '{_text[_pos]}' at position {_pos + 1}");
            }

            return value;
        }

        private double ParseSum()
        {
            var value = ParseProduct();
            while (true)
            {
                SkipSpaces();
                if (Accept('+'))
                {
                    value += ParseProduct();
                }
                else if (Accept('-'))
                {
                    value -= ParseProduct();
                }
                else
                {
                    return value;
                }
            }
        }

        private double ParseProduct()
        {
            var value = ParseUnary();
            while (true)
            {
                SkipSpaces();
                if (Accept('*') || Accept('×'))
                {
                    value *= ParseUnary();
                }
                else if (Accept('/') || Accept('÷'))
                {
                    var divisor = ParseUnary();
                    if (divisor == 0)
                    {
                        throw new ToolException("division by zero");
                    }

                    value /= divisor;
                }
                else if (Accept('%'))
                {
                    var divisor = ParseUnary();
                    if (divisor == 0)
                    {
                        throw new ToolException("division by zero");
                    }

                    value %= divisor;
                }
                else
                {
                    return value;
                }
            }
        }

        // Unary minus binds looser than '^', so -2^2 is -4; the exponent may itself be signed (2^-1).
        private double ParseUnary()
        {
            SkipSpaces();
            if (Accept('-'))
            {
                Enter();
                var value = -ParseUnary();
                _depth--;
                return value;
            }

            if (Accept('+'))
            {
                Enter();
                var value = ParseUnary();
                _depth--;
                return value;
            }

            return ParsePower();
        }

        private double ParsePower()
        {
            var value = ParsePrimary();
            SkipSpaces();
            if (Accept('^'))
            {
                Enter();
                var exponent = ParseUnary();
                _depth--;
                value = Math.Pow(value, exponent);
            }

            return value;
        }

        private double ParsePrimary()
        {
            SkipSpaces();
            if (Accept('('))
            {
                Enter();
                var value = ParseSum();
                SkipSpaces();
                if (!Accept(')'))
                {
                    throw new ToolException(_pos < _text.Length ? $"expected ')' at position {_pos + 1}" : "missing ')'");
                }

                _depth--;
                return value;
            }

            var start = _pos;
            while (_pos < _text.Length && (char.IsAsciiDigit(_text[_pos]) || _text[_pos] == '.'))
            {
                _pos++;
            }

            if (start == _pos)
            {
                throw new ToolException(_pos < _text.Length ? $"unexpected '{_text[_pos]}' at position {_pos + 1}" : "the expression ends too early");
            }

            var number = _text[start.._pos];
            if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var parsed))
            {
                throw new ToolException($"'{number}' is not a number");
            }

            return parsed;
        }

        private void Enter()
        {
            if (++_depth > MaxDepth)
            {
                throw new ToolException("the expression is nested too deeply");
            }
        }

        private bool Accept(char c)
        {
            if (_pos < _text.Length && _text[_pos] == c)
            {
                _pos++;
                return true;
            }

            return false;
        }

        private void SkipSpaces()
        {
            while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos]))
            {
                _pos++;
            }
        }
    }
}
