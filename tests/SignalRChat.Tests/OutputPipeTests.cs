using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Client;
using SignalRChat.Contracts;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Server.Fanout;
using SignalRChat.Server.Telemetry;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>
/// A hub connection's output takes one flush at a time. Stateful reconnect acks from a timer while a
/// message may still wait for a slow client's socket; on a bare pipe that second flush fails and the
/// member is disconnected with an error.
/// </summary>
public sealed class OutputPipeTests
{
    private static readonly byte[] Message = Encoding.UTF8.GetBytes("{\"type\":1,\"target\":\"token\",\"arguments\":[\"a delta that fills the pipe\"]}\u001e");
    private static readonly byte[] Ack = Encoding.UTF8.GetBytes("{\"type\":8,\"sequenceId\":1}\u001e");

    [Fact]
    public async Task On_a_bare_pipe_a_second_flush_while_one_waits_fails()
    {
        var pipe = SmallPipe();
        var waiting = pipe.Writer.WriteAsync(Message);
        Assert.False(waiting.IsCompleted);

        pipe.Writer.Write(Ack);
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await Task.WhenAll(waiting.AsTask(), pipe.Writer.FlushAsync().AsTask());
        });
    }

    [Fact]
    public async Task A_flush_or_write_that_arrives_while_one_waits_goes_out_after_it_in_order()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var metrics = new MetricRecorder(meters);
        var pipe = SmallPipe();
        var writer = new SerialFlushPipeWriter(pipe.Writer, new ChatMetrics(meters));

        var message = writer.WriteAsync(Message);
        Assert.False(message.IsCompleted);
        // What the ack timer does: write its message and flush, while the message's flush still waits.
        writer.Write(Ack);
        var ack = writer.FlushAsync();
        var next = writer.WriteAsync(Message);
        Assert.False(ack.IsCompleted);
        Assert.False(next.IsCompleted);

        var expected = Message.Concat(Ack).Concat(Message).ToArray();
        var read = await ReadAsync(pipe.Reader, expected.Length);
        await message;
        await ack;
        await next;

        Assert.Equal(expected, read);
        Assert.Equal(2, metrics.Sum("signalrchat.transport.chained_flushes"));
        // Once nothing waits, writes go straight through again.
        Assert.True(writer.WriteAsync(Ack[..4]).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_hub_connection_writes_through_it_and_again_after_a_stateful_reconnect()
    {
        await using var server = await ChatServer.StartAsync();
        var bob = await server.ConnectAsync("bob");
        await bob.JoinRoomAsync("pipes");
        var registry = server.Services.GetRequiredService<ConnectionRegistry>();
        var connectionId = bob.Connection.ConnectionId!;
        var before = OutputOf(registry, connectionId);
        Assert.IsType<SerialFlushPipeWriter>(before);

        // The socket goes away under the connection; stateful reconnect brings a new output pipe.
        registry.Find(connectionId)!.Connection.Features.Get<IHttpContextFeature>()!.HttpContext!.Abort();
        var snapshot = await bob.JoinRoomAsync("pipes");

        Assert.Equal(connectionId, bob.Connection.ConnectionId);
        Assert.Equal("pipes", snapshot.RoomId);
        var after = OutputOf(registry, connectionId);
        Assert.IsType<SerialFlushPipeWriter>(after);
        Assert.NotSame(before, after);
    }

    [Fact]
    public async Task A_hub_connection_without_stateful_reconnect_is_left_as_it_is()
    {
        await using var server = await ChatServer.StartAsync();
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "carol");
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Url, ChatProtocol.HubPath), options =>
            {
                options.AccessTokenProvider = () => Task.FromResult<string?>(session.Token);
                options.Transports = HttpTransportType.WebSockets;
            })
            .Build();
        await connection.StartAsync();
        var snapshot = await connection.InvokeAsync<RoomSnapshot>(ChatProtocol.Methods.JoinRoom, "plain");

        Assert.Equal("plain", snapshot.RoomId);
        var output = OutputOf(server.Services.GetRequiredService<ConnectionRegistry>(), connection.ConnectionId!);
        Assert.IsNotType<SerialFlushPipeWriter>(output);
    }

    private static PipeWriter OutputOf(ConnectionRegistry registry, string connectionId) =>
        registry.Find(connectionId)!.Connection.Features.Get<IConnectionTransportFeature>()!.Transport.Output;

    private static Pipe SmallPipe() => new(new PipeOptions(pauseWriterThreshold: 16, resumeWriterThreshold: 8, useSynchronizationContext: false));

    private static async Task<byte[]> ReadAsync(PipeReader reader, int length)
    {
        var read = new List<byte>();
        while (read.Count < length)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(EventLog.DefaultTimeout);
            foreach (var segment in result.Buffer)
            {
                read.AddRange(segment.ToArray());
            }

            reader.AdvanceTo(result.Buffer.End);
        }

        return read.ToArray();
    }
}
