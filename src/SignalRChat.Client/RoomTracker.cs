using SignalRChat.Contracts;

namespace SignalRChat.Client;

/// <summary>
/// One room's position in its event stream, and what to do to keep it whole. Events at or below the
/// last seen seq are duplicates; events that arrive while a join is in flight wait for its snapshot;
/// an event past a hole is held and Resume is asked for. A Resume that is refused (a restarted server
/// no longer knows the connection's rooms), that answers reset, or that shows the room's seq went
/// backwards asks for a fresh JoinRoom, whose snapshot replaces the position. No clock and no I/O:
/// the client feeds it (under <see cref="Gate"/>) and performs <see cref="NextAction"/>. It also
/// knows the reply running in the room as of its position (from the snapshot, then the statuses), so a
/// compact delta (<c>tokens=compact</c>: a <see cref="TokenEvent"/> with an empty generation id) is
/// handed out with that reply's id; one with no running reply to belong to asks for a fresh JoinRoom,
/// never becomes text of another reply. The TypeScript client's <c>RoomTracker</c> is the same machine; <c>tests/cases/room-tracker.json</c>
/// is run against both.
/// </summary>
internal sealed class RoomTracker
{
    private List<RoomEvent> _held = [];
    private bool _joining;
    private bool _rejoin;
    private long? _resumingFrom;
    private TrackerActionKind _wanted;
    private bool _again;
    private string? _running;

    /// <summary>Taken around every call and the dispatch of what it returns, so a room's events are applied one at a time, in order.</summary>
    public Lock Gate { get; } = new();

    public long LastSeq { get; private set; }

    /// <summary>The reply generating in the room as of <see cref="LastSeq"/>, as far as this tracker knows; null when none or not known.</summary>
    public string? RunningGeneration => _running;

    /// <summary>True once the room has a position (joined, or taken up by Resume), until it is left.</summary>
    public bool Joined { get; private set; }

    /// <summary>True while the join in flight is one this tracker asked for: its snapshot replaces what the app shows.</summary>
    public bool Rejoining => _joining && _rejoin;

    /// <summary>True while events past a hole wait.</summary>
    public bool HasGap => !_joining && _held.Count > 0;

    /// <summary>JoinRoom is about to be called: hold what arrives until <see cref="CompleteJoin"/>.</summary>
    public void BeginJoin()
    {
        _joining = true;

        // What arrived before JoinRoom was sent is in its snapshot; what arrives from now on is judged against it.
        _held = [];
    }

    /// <summary>JoinRoom failed: forget what was held for it.</summary>
    public void AbortJoin()
    {
        _joining = false;
        _rejoin = false;
        _held = [];
        if (Joined && _again)
        {
            _again = false;
            _wanted = TrackerActionKind.Resume;
        }
    }

    /// <summary>
    /// The snapshot arrived: its seq becomes the position (a fresh snapshot replaces the old one even
    /// if lower, as after a server restart), and the held events that follow it are returned in order.
    /// <paramref name="runningGenerationId"/> is the snapshot's <c>activeGeneration</c>, which the compact deltas after it belong to.
    /// </summary>
    public IReadOnlyList<RoomEvent> CompleteJoin(long snapshotLastSeq, string? runningGenerationId)
    {
        _joining = false;
        _rejoin = false;
        Joined = true;
        LastSeq = snapshotLastSeq;
        _running = runningGenerationId;
        var ready = Drain();
        if (_again || _held.Count > 0)
        {
            _again = false;
            WantResume();
        }

        return ready;
    }

    /// <summary>Judges an incoming event; <see cref="Arrival.New"/> means the caller applies it now (as it is after <see cref="TryFollow"/>).</summary>
    private Arrival Accept(ref RoomEvent roomEvent)
    {
        if (_joining)
        {
            _held.Add(roomEvent);
            return Arrival.Held;
        }

        // A room not followed (left, or never joined) has no position: what still arrives is dropped.
        if (!Joined || roomEvent.Seq <= LastSeq)
        {
            return Arrival.Duplicate;
        }

        // A joined run of token deltas covers FirstSeq..Seq. One that starts at or before the last seq
        // seen cannot be applied in part: like a hole, it waits, and Resume re-sends the deltas one by one.
        if (roomEvent.FirstCoveredSeq != LastSeq + 1)
        {
            _held.Add(roomEvent);
            WantResume();
            return Arrival.Gap;
        }

        if (!TryFollow(ref roomEvent))
        {
            return Arrival.Gap;
        }

        LastSeq = roomEvent.Seq;
        return Arrival.New;
    }

    /// <summary>An event arrived: the events to apply now, in order (it, and held ones it lets follow on).</summary>
    public IReadOnlyList<RoomEvent> Receive(RoomEvent roomEvent)
    {
        if (Accept(ref roomEvent) != Arrival.New)
        {
            return [];
        }

        if (_held.Count == 0)
        {
            return [roomEvent];
        }

        var ready = new List<RoomEvent> { roomEvent };
        ready.AddRange(Drain());
        return ready;
    }

    /// <summary>The connection came back (a new one, maybe to a restarted server): catch up from the last seq seen.</summary>
    public void Reconnected()
    {
        if (!Joined && !_joining)
        {
            return;
        }

        if (_joining || _resumingFrom is not null)
        {
            // What is in flight went out on the old connection: once it ends, start over.
            _again = true;
            return;
        }

        WantResume();
    }

    /// <summary>Resume is about to be called from <paramref name="afterSeq"/> (by <see cref="NextAction"/>, or by the app for a room it takes up).</summary>
    public void BeginResume(long afterSeq)
    {
        if (!Joined && !_joining)
        {
            Joined = true;
            LastSeq = afterSeq;
        }

        _resumingFrom = afterSeq;
    }

    /// <summary>Resume answered. A reset, or a room whose seq is now below the one resumed from (the server lost it), is joined afresh.</summary>
    public void Resumed(ResumeResult result)
    {
        var from = _resumingFrom ?? LastSeq;
        _resumingFrom = null;
        if (!Joined)
        {
            return;
        }

        if (result.Reset || result.ToSeq < from)
        {
            _again = false;
            _wanted = TrackerActionKind.Rejoin;
        }
        else if (_again)
        {
            _again = false;
            WantResume();
        }
    }

    /// <summary>Resume failed: refused (a restarted server answers "join room … before you resume it") means join afresh.</summary>
    public void ResumeFailed()
    {
        _resumingFrom = null;
        if (!Joined)
        {
            return;
        }

        if (_again)
        {
            // It failed because the connection it went out on is gone; on the new one, try Resume again.
            _again = false;
            WantResume();
            return;
        }

        _wanted = TrackerActionKind.Rejoin;
    }

    /// <summary>
    /// What the client should do now; taking it marks it in flight. Resume: call Resume from
    /// <see cref="TrackerAction.AfterSeq"/>, then <see cref="Resumed"/> or <see cref="ResumeFailed"/>.
    /// Rejoin: call JoinRoom (held events wait for it), then <see cref="CompleteJoin"/> (the snapshot is a reset) or <see cref="AbortJoin"/>.
    /// </summary>
    public TrackerAction NextAction()
    {
        var wanted = _wanted;
        _wanted = TrackerActionKind.None;
        if (wanted == TrackerActionKind.Resume && Joined && !_joining && _resumingFrom is null)
        {
            _resumingFrom = LastSeq;
            return new TrackerAction(TrackerActionKind.Resume, LastSeq);
        }

        if (wanted == TrackerActionKind.Rejoin && Joined && !_joining)
        {
            BeginJoin();
            _rejoin = true;
            _resumingFrom = null;
            return new TrackerAction(TrackerActionKind.Rejoin, 0);
        }

        return default;
    }

    /// <summary>The room was left: nothing more is tracked.</summary>
    public void Leave()
    {
        Joined = false;
        _joining = false;
        _rejoin = false;
        _resumingFrom = null;
        _wanted = TrackerActionKind.None;
        _again = false;
        _running = null;
        _held = [];
    }

    /// <summary>
    /// The event as it is applied at the position it takes: a compact delta gets the running reply's id,
    /// and statuses move the running reply. A compact delta with no running reply known (a room taken up
    /// by a bare Resume mid-reply) is not applied: the room is joined afresh, and its snapshot says.
    /// </summary>
    private bool TryFollow(ref RoomEvent roomEvent)
    {
        switch (roomEvent)
        {
            case TokenEvent { GenerationId.Length: 0 } compact:
                if (_running is null)
                {
                    _wanted = TrackerActionKind.Rejoin;
                    return false;
                }

                roomEvent = compact with { GenerationId = _running };
                break;
            case StatusEvent { IsFinal: true } final when final.GenerationId == _running:
                _running = null;
                break;
            case StatusEvent { IsFinal: false, State: not GenerationStates.Queued } status:
                _running = status.GenerationId;
                break;
        }

        return true;
    }

    private List<RoomEvent> Drain()
    {
        var ready = new List<RoomEvent>();
        if (_held.Count == 0)
        {
            return ready;
        }

        var rest = new List<RoomEvent>();
        foreach (var roomEvent in _held.OrderBy(e => e.Seq))
        {
            if (roomEvent.Seq <= LastSeq)
            {
                continue;
            }

            var applied = roomEvent;
            if (roomEvent.FirstCoveredSeq == LastSeq + 1 && TryFollow(ref applied))
            {
                LastSeq = roomEvent.Seq;
                ready.Add(applied);
            }
            else
            {
                rest.Add(roomEvent);
            }
        }

        _held = rest;
        return ready;
    }

    private void WantResume()
    {
        if (_wanted == TrackerActionKind.None && _resumingFrom is null)
        {
            _wanted = TrackerActionKind.Resume;
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
