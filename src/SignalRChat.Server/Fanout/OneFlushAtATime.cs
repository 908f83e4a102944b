using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Abstractions;
using SignalRChat.Server.Telemetry;

// IStatefulReconnectFeature is marked preview in ASP.NET Core 10; it is the only way to see the new
// output pipe a stateful reconnect brings, and it is used here exactly as SignalR itself uses it.
#pragma warning disable CA2252

namespace SignalRChat.Server.Fanout;

/// <summary>
/// Keeps a hub connection's output to one flush at a time. With stateful reconnect, SignalR's
/// message buffer sends its acks from a timer while a write of a message may still be waiting for
/// the socket (a member whose client reads slowly); two flushes waiting on one pipe fail with
/// "Concurrent reads or writes are not supported" and SignalR then closes the connection with an
/// error. Here a flush that arrives while another waits is chained behind it, so the ack goes out
/// after the message, and the member stays connected.
/// </summary>
internal static class OneFlushAtATime
{
    /// <summary>
    /// Connection middleware for the hub endpoint: wraps the output of a connection that uses stateful reconnect, now and
    /// after every reconnect. Other connections have no message buffer and so no ack timer: SignalR already writes their
    /// messages one at a time, and they are left as they are (nothing added per connection).
    /// </summary>
    public static IConnectionBuilder UseOneFlushAtATime(this IConnectionBuilder builder, ChatMetrics metrics) =>
        builder.Use(next => connection =>
        {
            if (connection.Features.Get<IStatefulReconnectFeature>() is { } reconnect)
            {
                connection.Transport = new DuplexPipe(connection.Transport.Input, new SerialFlushPipeWriter(connection.Transport.Output, metrics));
                connection.Features.Set<IStatefulReconnectFeature>(new WrappingReconnectFeature(reconnect, connection, metrics));
            }

            return next(connection);
        });

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>A reconnect hands SignalR a new output pipe: it is wrapped the same way before the message buffer resends on it.</summary>
    private sealed class WrappingReconnectFeature(IStatefulReconnectFeature inner, ConnectionContext connection, ChatMetrics metrics) : IStatefulReconnectFeature
    {
        public void OnReconnected(Func<PipeWriter, Task> notifyOnReconnect) =>
            inner.OnReconnected(writer =>
            {
                var wrapped = writer as SerialFlushPipeWriter ?? new SerialFlushPipeWriter(writer, metrics);
                connection.Transport = new DuplexPipe(connection.Transport.Input, wrapped);
                return notifyOnReconnect(wrapped);
            });

        public void DisableReconnect() => inner.DisableReconnect();
    }
}

/// <summary>A <see cref="PipeWriter"/> that never has two flushes waiting on the pipe beneath it.</summary>
internal sealed class SerialFlushPipeWriter(PipeWriter inner, ChatMetrics metrics) : PipeWriter
{
    private readonly Lock _lock = new();
    // The flush still waiting on the pipe, if one is; completed or null when none is.
    private Task<FlushResult>? _waiting;

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_waiting is { IsCompleted: false } earlier)
            {
                metrics.FlushChained();
                return new ValueTask<FlushResult>(_waiting = FlushAfterAsync(earlier, cancellationToken));
            }

            return Track(inner.FlushAsync(cancellationToken));
        }
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_waiting is { IsCompleted: false } earlier)
            {
                // Written behind what waits; flushed when that flush is through.
                inner.Write(source.Span);
                metrics.FlushChained();
                return new ValueTask<FlushResult>(_waiting = FlushAfterAsync(earlier, cancellationToken));
            }

            return Track(inner.WriteAsync(source, cancellationToken));
        }
    }

    private ValueTask<FlushResult> Track(ValueTask<FlushResult> flush)
    {
        if (flush.IsCompleted)
        {
            return flush;
        }

        _waiting = flush.AsTask();
        return new ValueTask<FlushResult>(_waiting);
    }

    private async Task<FlushResult> FlushAfterAsync(Task<FlushResult> earlier, CancellationToken cancellationToken)
    {
        try
        {
            var result = await earlier.ConfigureAwait(false);
            if (result.IsCompleted)
            {
                return result;
            }
        }
        catch
        {
            // The earlier flush's caller sees its failure; this one tries on its own.
        }

        Task<FlushResult> next;
        lock (_lock)
        {
            // Later flushes chain behind this task, so the pipe still sees one flush at a time.
            next = inner.FlushAsync(cancellationToken).AsTask();
        }

        return await next.ConfigureAwait(false);
    }
}
