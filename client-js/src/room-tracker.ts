import type { RoomEvent, RoomEventName } from "./contract";

/** A room event with its event name, as it arrived. */
export interface NamedEvent {
  name: RoomEventName;
  event: RoomEvent;
}

/** What the tracker decided about an event. */
export type Arrival = "new" | "duplicate" | "held" | "gap";

/** The first seq an event covers: a run of joined token deltas covers firstSeq..seq. */
export function firstSeqOf(event: RoomEvent): number {
  return "firstSeq" in event && typeof event.firstSeq === "number" ? event.firstSeq : event.seq;
}

/**
 * One room's position in its event stream. Events at or below the last seen seq are duplicates;
 * events that arrive while JoinRoom is in flight wait for the snapshot; an event past a hole is a
 * gap, held until Resume fills the hole. No clock and no I/O: the client drives it.
 */
export class RoomTracker {
  private held: NamedEvent[] = [];
  private joining = false;
  lastSeq = 0;
  joined = false;

  /** JoinRoom is about to be called: hold what arrives until {@link completeJoin}. */
  beginJoin(): void {
    this.joining = true;
  }

  /** JoinRoom failed: forget what was held for it. */
  abortJoin(): void {
    this.joining = false;
    if (!this.joined) {
      this.held = [];
    }
  }

  /**
   * The snapshot arrived: its lastSeq becomes the position (a fresh snapshot replaces the old
   * position even if lower, as after a server restart), and the held events that follow it are returned in order.
   */
  completeJoin(snapshotLastSeq: number): NamedEvent[] {
    this.joining = false;
    this.joined = true;
    this.lastSeq = snapshotLastSeq;
    return this.drain();
  }

  /** Judges an incoming event; "new" means the caller applies it now. */
  accept(named: NamedEvent): Arrival {
    if (this.joining) {
      this.held.push(named);
      return "held";
    }
    if (named.event.seq <= this.lastSeq) {
      return "duplicate";
    }
    // A joined run that starts at or before the last seq seen cannot be applied in part: like a
    // hole, it waits, and Resume re-sends the deltas one by one (the run is then a duplicate).
    if (this.joined && firstSeqOf(named.event) !== this.lastSeq + 1) {
      this.held.push(named);
      return "gap";
    }
    this.lastSeq = named.event.seq;
    return "new";
  }

  /** True while events past a hole wait. */
  get hasGap(): boolean {
    return !this.joining && this.held.length > 0;
  }

  /** After Resume re-sent what was missing: returns held events that now follow on, in order. */
  drain(): NamedEvent[] {
    const ready: NamedEvent[] = [];
    const rest: NamedEvent[] = [];
    for (const named of [...this.held].sort((a, b) => a.event.seq - b.event.seq)) {
      if (named.event.seq <= this.lastSeq) {
        continue;
      }
      if (firstSeqOf(named.event) === this.lastSeq + 1) {
        this.lastSeq = named.event.seq;
        ready.push(named);
      } else {
        rest.push(named);
      }
    }
    this.held = rest;
    return ready;
  }

  /** The room was left: nothing more is tracked. */
  leave(): void {
    this.joined = false;
    this.joining = false;
    this.held = [];
  }
}
