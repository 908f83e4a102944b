using System.Text;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>One Server-Sent Events frame: id, event name, data, or a comment line.</summary>
public sealed record SseFrame(string? Id, string? Event, string? Data, string? Comment, int? Retry);

/// <summary>Reads an SSE response as a real client would, frame by frame.</summary>
public sealed class SseReader(Stream stream) : IAsyncDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    public async Task<SseFrame?> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? EventLog.DefaultTimeout);
        string? id = null, name = null, comment = null;
        int? retry = null;
        StringBuilder? data = null;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token);
            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                if (id is null && name is null && data is null && comment is null && retry is null)
                {
                    continue;
                }

                return new SseFrame(id, name, data?.ToString(), comment, retry);
            }

            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
                continue;
            }

            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "retry": retry = int.Parse(value); break;
                case "data":
                    data ??= new StringBuilder();
                    if (data.Length > 0)
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    break;
            }
        }
    }

    /// <summary>Reads frames until one matches; returns every event frame read on the way, the match last.</summary>
    public async Task<List<SseFrame>> ReadUntilAsync(Func<SseFrame, bool> match, TimeSpan? timeout = null)
    {
        var frames = new List<SseFrame>();
        var deadline = DateTime.UtcNow + (timeout ?? EventLog.DefaultTimeout);
        while (true)
        {
            var frame = await NextAsync(deadline - DateTime.UtcNow) ?? throw new EndOfStreamException("the stream ended");
            if (frame.Event is not null)
            {
                frames.Add(frame);
            }

            if (match(frame))
            {
                return frames;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        return ValueTask.CompletedTask;
    }
}
