using Microsoft.AspNetCore.SignalR.Client;
using SignalRChat.Contracts;

namespace SignalRChat.Tests.Infrastructure;

/// <summary>Every room event a hub connection receives, as it arrives: nothing skipped as already seen (the client's tracker does that).</summary>
public sealed class RawEventLog
{
    private readonly List<RoomEvent> _events = [];
    private readonly List<(Func<RoomEvent, bool> Match, TaskCompletionSource<RoomEvent> Done)> _waiters = [];

    public RawEventLog(HubConnection connection)
    {
        connection.On<MessageEvent>(ChatProtocol.Events.Message, Add);
        connection.On<TokenEvent>(ChatProtocol.Events.Token, Add);
        connection.On<ToolProgressEvent>(ChatProtocol.Events.ToolProgress, Add);
        connection.On<StatusEvent>(ChatProtocol.Events.Status, Add);
        connection.On<PresenceEvent>(ChatProtocol.Events.Presence, Add);
    }

    public IReadOnlyList<RoomEvent> Events
    {
        get
        {
            lock (_events)
            {
                return _events.ToList();
            }
        }
    }

    public Task<RoomEvent> WaitForAsync(Func<RoomEvent, bool> match, TimeSpan? timeout = null)
    {
        lock (_events)
        {
            if (_events.FirstOrDefault(match) is { } seen)
            {
                return Task.FromResult(seen);
            }

            var done = new TaskCompletionSource<RoomEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, done));
            return done.Task.WaitAsync(timeout ?? EventLog.DefaultTimeout);
        }
    }

    private void Add(RoomEvent roomEvent)
    {
        lock (_events)
        {
            _events.Add(roomEvent);
            foreach (var waiter in _waiters.Where(w => w.Match(roomEvent)).ToList())
            {
                waiter.Done.TrySetResult(roomEvent);
                _waiters.Remove(waiter);
            }
        }
    }
}
