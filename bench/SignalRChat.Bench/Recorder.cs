using System.Diagnostics;
using System.Globalization;

namespace SignalRChat.Bench;

/// <summary>Collects token receipts of one run: latency of every stamped token at every client, the count, the span.</summary>
internal sealed class Recorder(int capacity)
{
    private readonly double[] _latencyMs = new double[capacity];
    private int _count;
    private long _tokens;
    private long _messages;
    private long _firstStamp = long.MaxValue;
    private long _lastStamp;
    private long _lastReceipt;
    private long _modelTtft = -1;

    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Token messages received, each holding one delta or several joined.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>The model's own time to first token (ask → first yield), in Stopwatch ticks, of the last first token seen.</summary>
    public long ModelTtftTicks => Interlocked.Read(ref _modelTtft);

    /// <summary>Reads the stamps in a (possibly coalesced) delta received now; returns how many tokens it held.</summary>
    public int Receive(string text)
    {
        var now = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _messages);
        var tokens = 0;
        long requested = -1;
        foreach (var part in text.AsSpan().Split(' '))
        {
            var item = text.AsSpan()[part];
            if (item.IsEmpty)
            {
                continue;
            }

            if (item[0] == 'r')
            {
                _ = long.TryParse(item[1..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out requested);
                continue;
            }

            if (!long.TryParse(item, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var stamp))
            {
                tokens++;
                continue;
            }

            if (requested > 0)
            {
                Interlocked.Exchange(ref _modelTtft, stamp - requested);
                requested = -1;
            }

            tokens++;
            var index = Interlocked.Increment(ref _count) - 1;
            if (index < _latencyMs.Length)
            {
                _latencyMs[index] = (now - stamp) * 1000.0 / Stopwatch.Frequency;
            }

            Min(ref _firstStamp, stamp);
            Max(ref _lastStamp, stamp);
        }

        Interlocked.Add(ref _tokens, tokens);
        Max(ref _lastReceipt, now);
        return tokens;
    }

    /// <summary>
    /// Reads the <see cref="WireStamps"/> in a message received now; returns how many it held. With
    /// <paramref name="newestOnly"/> (a message that carries the whole text so far) only the newest stamp's
    /// latency is taken: what the message brought that no earlier one did.
    /// </summary>
    public int ReceiveWire(string text, bool newestOnly)
    {
        var now = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _messages);
        var stamps = 0;
        var span = text.AsSpan();
        double? newest = null;
        foreach (var part in span.Split(' '))
        {
            if (WireStamps.LatencyMs(span[part], now) is not { } latency)
            {
                continue;
            }

            stamps++;
            if (newestOnly)
            {
                newest = latency;
            }
            else
            {
                Record(latency);
            }
        }

        if (newest is { } last)
        {
            Record(last);
        }

        if (!newestOnly)
        {
            Interlocked.Add(ref _tokens, stamps);
        }

        Max(ref _lastReceipt, now);
        return stamps;
    }

    private void Record(double latencyMs)
    {
        var index = Interlocked.Increment(ref _count) - 1;
        if (index < _latencyMs.Length)
        {
            _latencyMs[index] = latencyMs;
        }
    }

    public double TokensPerSecond
    {
        get
        {
            var span = Interlocked.Read(ref _lastReceipt) - Interlocked.Read(ref _firstStamp);
            return span <= 0 ? 0 : Tokens * (double)Stopwatch.Frequency / span;
        }
    }

    /// <summary>Milliseconds from the model's first yield to its last, and from its last yield to the last receipt.</summary>
    public (double Yielding, double Tail) Spans => (Stats.Ms(Interlocked.Read(ref _lastStamp) - Interlocked.Read(ref _firstStamp)),
        Stats.Ms(Interlocked.Read(ref _lastReceipt) - Interlocked.Read(ref _lastStamp)));

    public double[] Latencies => _latencyMs.AsSpan(0, Math.Min(_count, _latencyMs.Length)).ToArray();

    private static void Min(ref long target, long value)
    {
        var seen = Interlocked.Read(ref target);
        while (value < seen)
        {
            var was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }

    private static void Max(ref long target, long value)
    {
        var seen = Interlocked.Read(ref target);
        while (value > seen)
        {
            var was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }
}

internal static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
