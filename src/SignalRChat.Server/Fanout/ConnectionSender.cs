using Microsoft.AspNetCore.SignalR;
using SignalRChat.Contracts;
using SignalRChat.Server.Telemetry;

namespace SignalRChat.Server.Fanout;

/// <summary>
/// Writes room events to one hub connection. The caller never waits for the socket: when a write
/// does not complete at once, later events queue behind it in order, and consecutive token deltas
/// of one generation are joined into one event while the reader catches up. A reader too far
/// behind is disconnected (it can come back with <c>Resume</c>). Each event goes out in the shape the
/// connection asked for (<c>finalText=omit</c>, <c>tokens=compact</c>), live and replayed alike.
/// </summary>
internal sealed class ConnectionSender(HubConnectionContext connection, int maxQueued, EventShape shape, ChatMetrics metrics, ILogger logger) : IRoomSubscriber
{
    private readonly Lock _lock = new();
    // Made when first needed: most connections are idle most of the time, and many never fall behind.
    private OutboundQueue? _queue;
    private HashSet<string>? _rooms;
    private bool _writing;
    private bool _aborted;

    public string Id => connection.ConnectionId;

    public string? UserId => field ??= Auth.ChatUser.From(connection.User).UserId;

    public HubConnectionContext Connection => connection;

    public bool TryAddRoom(string roomId, int maxRooms, out bool added)
    {
        lock (_lock)
        {
            _rooms ??= new HashSet<string>(StringComparer.Ordinal);
            if (_rooms.Contains(roomId))
            {
                added = false;
                return true;
            }

            if (_rooms.Count >= maxRooms)
            {
                added = false;
                return false;
            }

            added = _rooms.Add(roomId);
            return true;
        }
    }

    public bool RemoveRoom(string roomId)
    {
        lock (_lock)
        {
            return _rooms?.Remove(roomId) == true;
        }
    }

    public bool InRoom(string roomId)
    {
        lock (_lock)
        {
            return _rooms?.Contains(roomId) == true;
        }
    }

    public string[] TakeRooms()
    {
        lock (_lock)
        {
            var rooms = _rooms?.ToArray() ?? [];
            _rooms?.Clear();
            return rooms;
        }
    }

    public void Deliver(OutgoingEvent outgoing)
    {
        lock (_lock)
        {
            if (_aborted)
            {
                return;
            }

            if (_writing)
            {
                _queue ??= new OutboundQueue();
                if (_queue.Count >= maxQueued)
                {
                    _aborted = true;
                    _queue.Clear();
                    FanoutLog.SlowReaderDisconnected(logger, connection.ConnectionId, maxQueued);
                    metrics.SlowReaderDisconnected();
                    connection.Abort();
                    return;
                }

                if (_queue.Enqueue(outgoing))
                {
                    metrics.TokenCoalesced();
                }

                return;
            }

            _writing = true;
        }

        var write = connection.WriteAsync(MessageOf(outgoing));
        if (write.IsCompletedSuccessfully)
        {
            write.GetAwaiter().GetResult();
            if (FinishedWriting())
            {
                return;
            }

            write = default;
        }

        _ = DrainAsync(write);
    }

    public void Numbered(string roomId, int number)
    {
        if (shape.CompactTokens)
        {
            Deliver(OutgoingEvent.RoomNumbered(roomId, number));
        }
    }

    public void Seal()
    {
        lock (_lock)
        {
            _queue?.Seal();
        }
    }

    private SerializedHubMessage MessageOf(OutgoingEvent outgoing) =>
        shape.CompactTokens && outgoing.Event is TokenEvent && outgoing.RoomNumber != 0 ? outgoing.CompactHubMessage
        : shape.OmitFinalText ? outgoing.HubMessageWithoutFinalText
        : outgoing.HubMessage;

    private bool FinishedWriting()
    {
        lock (_lock)
        {
            if (_queue is not { Count: > 0 } || _aborted)
            {
                _writing = false;
                return true;
            }

            return false;
        }
    }

    private async Task DrainAsync(ValueTask pending)
    {
        try
        {
            await pending;
            while (true)
            {
                OutgoingEvent next;
                lock (_lock)
                {
                    if (_queue is not { Count: > 0 } || _aborted)
                    {
                        _writing = false;
                        return;
                    }

                    next = _queue.Dequeue();
                }

                await connection.WriteAsync(MessageOf(next));
            }
        }
        catch (Exception ex)
        {
            FanoutLog.WriteFailed(logger, connection.ConnectionId, ex);
            lock (_lock)
            {
                _writing = false;
                _queue?.Clear();
            }
        }
    }
}
