using SignalRChat.Contracts;

namespace SignalRChat.Client;

/// <summary>
/// Per-room position in the event stream. Events at or below the last seen seq are duplicates and
/// dropped; events that arrive while a join is in flight wait for its snapshot.
/// </summary>
internal sealed class RoomTracker
{
    private readonly Lock _lock = new();
    private List<RoomEvent>? _pending;

    public long LastSeq { get; private set; }

    public bool Joined { get; private set; }

    public void BeginJoin()
    {
        lock (_lock)
        {
            _pending ??= [];
        }
    }

    /// <summary>Taken while events of the room are applied, so events held during a join and live ones are applied one at a time, in order.</summary>
    public Lock Applying { get; } = new();

    /// <summary>
    /// Sets the position from a snapshot and returns the events that came in meanwhile and follow it;
    /// <c>Gap</c> when one of them did not follow on (the caller resumes from <see cref="LastSeq"/>).
    /// </summary>
    public (IReadOnlyList<RoomEvent> Ready, bool Gap) CompleteJoin(long lastSeq)
    {
        lock (_lock)
        {
            LastSeq = Math.Max(LastSeq, lastSeq);
            Joined = true;
            var pending = _pending ?? [];
            _pending = null;
            var ready = new List<RoomEvent>();
            foreach (var roomEvent in pending.OrderBy(e => e.Seq))
            {
                if (roomEvent.Seq <= LastSeq)
                {
                    continue;
                }

                if (roomEvent.FirstCoveredSeq != LastSeq + 1)
                {
                    return (ready, true);
                }

                LastSeq = roomEvent.Seq;
                ready.Add(roomEvent);
            }

            return (ready, false);
        }
    }

    /// <summary>Takes up a room at <paramref name="afterSeq"/> unless this connection already follows it.</summary>
    public void ResumeFrom(long afterSeq)
    {
        lock (_lock)
        {
            if (!Joined && _pending is null)
            {
                LastSeq = afterSeq;
                Joined = true;
            }
        }
    }

    public void AbortJoin()
    {
        lock (_lock)
        {
            _pending = null;
        }
    }

    /// <summary>Judges an incoming event against the room's position.</summary>
    public Arrival Accept(RoomEvent roomEvent)
    {
        lock (_lock)
        {
            // While a join is in flight (the first, or a rejoin after a reset) events wait for its snapshot.
            if (_pending is not null)
            {
                _pending.Add(roomEvent);
                return Arrival.Held;
            }

            if (roomEvent.Seq <= LastSeq)
            {
                return Arrival.Duplicate;
            }

            // A joined run of token deltas covers FirstSeq..Seq. One that starts at or before the last
            // seq seen cannot be applied in part: it is treated as a gap, and Resume re-sends the rest.
            if (Joined && roomEvent.FirstCoveredSeq != LastSeq + 1)
            {
                return Arrival.Gap;
            }

            LastSeq = roomEvent.Seq;
            return Arrival.New;
        }
    }

    public void Leave()
    {
        lock (_lock)
        {
            Joined = false;
            _pending = null;
        }
    }
}

/// <summary>What became of an incoming event.</summary>
internal enum Arrival
{
    New,
    Duplicate,
    Held,
    Gap,
}
