import type { ResumeResult, RoomEvent, RoomEventName, StatusEvent, TokenEvent } from "./contract";
import { isFinal } from "./contract";

/** A room event with its event name, as it arrived. */
export interface NamedEvent {
  name: RoomEventName;
  event: RoomEvent;
}

/** What the tracker decided about an event. */
export type Arrival = "new" | "duplicate" | "held" | "gap";

/** What the tracker asks its client to do next: nothing, Resume from a seq, or JoinRoom afresh. */
export type TrackerAction = { kind: "none" } | { kind: "resume"; afterSeq: number } | { kind: "rejoin" };

const none: TrackerAction = { kind: "none" };

/** The first seq an event covers: a run of joined token deltas covers firstSeq..seq. */
export function firstSeqOf(event: RoomEvent): number {
  return "firstSeq" in event && typeof event.firstSeq === "number" ? event.firstSeq : event.seq;
}

/**
 * One room's position in its event stream, and what to do to keep it whole. Events at or below
 * the last seen seq are duplicates; events that arrive while JoinRoom is in flight wait for the
 * snapshot; an event past a hole is held and Resume is asked for. A Resume that is refused (a
 * restarted server no longer knows the connection's rooms), that answers `reset`, or that shows
 * the room's seq went backwards asks for a fresh JoinRoom, whose snapshot replaces the position.
 * No clock and no I/O: the client feeds it and performs {@link nextAction}. It also knows the reply
 * running in the room as of its position (from the snapshot, then the statuses), so a compact delta
 * (`tokens=compact`: a `token` with an empty `generationId`) is handed out with that reply's id; one
 * with no running reply to belong to asks for a fresh JoinRoom, never becomes text of another reply. The .NET client's
 * `RoomTracker` is the same machine; `tests/cases/room-tracker.json` is run against both.
 */
export class RoomTracker {
  private held: NamedEvent[] = [];
  private joining = false;
  private rejoin = false;
  private resumingFrom: number | undefined;
  private wanted: "none" | "resume" | "rejoin" = "none";
  private again = false;
  private running: string | undefined;
  lastSeq = 0;
  joined = false;

  /** JoinRoom is about to be called: hold what arrives until {@link completeJoin}. */
  beginJoin(): void {
    this.joining = true;
    // What arrived before JoinRoom was sent is in its snapshot; what arrives from now on is judged against it.
    this.held = [];
  }

  /** True while the join in flight is one this tracker asked for: its snapshot replaces what the app shows. */
  get rejoining(): boolean {
    return this.joining && this.rejoin;
  }

  /** JoinRoom failed: forget what was held for it. */
  abortJoin(): void {
    this.joining = false;
    this.rejoin = false;
    this.held = [];
    if (this.joined && this.again) {
      this.again = false;
      this.wanted = "resume";
    }
  }

  /** The reply generating in the room as of {@link lastSeq}, as far as this tracker knows. */
  get runningGeneration(): string | undefined {
    return this.running;
  }

  /**
   * The snapshot arrived: its lastSeq becomes the position (a fresh snapshot replaces the old
   * position even if lower, as after a server restart), and the held events that follow it are returned in order.
   * `runningGenerationId` is the snapshot's `activeGeneration`, which the compact deltas after it belong to.
   */
  completeJoin(snapshotLastSeq: number, runningGenerationId: string | undefined): NamedEvent[] {
    this.joining = false;
    this.rejoin = false;
    this.joined = true;
    this.lastSeq = snapshotLastSeq;
    this.running = runningGenerationId;
    const ready = this.drain();
    if (this.again || this.held.length > 0) {
      this.again = false;
      this.want("resume");
    }
    return ready;
  }

  /** Judges an incoming event; "new" means the caller applies it now (a compact delta as {@link receive} hands it out). */
  accept(named: NamedEvent): Arrival {
    return this.judge(named).arrival;
  }

  private judge(named: NamedEvent): { arrival: Arrival; applied?: NamedEvent } {
    if (this.joining) {
      this.held.push(named);
      return { arrival: "held" };
    }
    // A room not followed (left, or never joined) has no position: what still arrives is dropped.
    if (!this.joined || named.event.seq <= this.lastSeq) {
      return { arrival: "duplicate" };
    }
    // A joined run that starts at or before the last seq seen cannot be applied in part: like a
    // hole, it waits, and Resume re-sends the deltas one by one (the run is then a duplicate).
    if (firstSeqOf(named.event) !== this.lastSeq + 1) {
      this.held.push(named);
      this.want("resume");
      return { arrival: "gap" };
    }
    const applied = this.follow(named);
    if (applied === undefined) {
      return { arrival: "gap" };
    }
    this.lastSeq = named.event.seq;
    return { arrival: "new", applied };
  }

  /** An event arrived: the events to apply now, in order (it, and held ones it lets follow on). */
  receive(named: NamedEvent): NamedEvent[] {
    const { arrival, applied } = this.judge(named);
    if (arrival !== "new" || applied === undefined) {
      return [];
    }
    return this.held.length > 0 ? [applied, ...this.drain()] : [applied];
  }

  /**
   * The event as it is applied at the position it takes: a compact delta gets the running reply's
   * id, and statuses move the running reply. A compact delta with no running reply known (a room
   * taken up by a bare Resume mid-reply) is not applied: the room is joined afresh, and its snapshot says.
   */
  private follow(named: NamedEvent): NamedEvent | undefined {
    if (named.name === "token") {
      const token = named.event as TokenEvent;
      if (token.generationId !== "") {
        return named;
      }
      if (this.running === undefined) {
        this.wanted = "rejoin";
        return undefined;
      }
      return { name: "token", event: { ...token, generationId: this.running } };
    }
    if (named.name === "status") {
      const status = named.event as StatusEvent;
      if (isFinal(status.state)) {
        if (status.generationId === this.running) {
          this.running = undefined;
        }
      } else if (status.state !== "queued") {
        this.running = status.generationId;
      }
    }
    return named;
  }

  /** True while events past a hole wait. */
  get hasGap(): boolean {
    return !this.joining && this.held.length > 0;
  }

  /** Returns held events that now follow on, in order. */
  drain(): NamedEvent[] {
    const ready: NamedEvent[] = [];
    const rest: NamedEvent[] = [];
    for (const named of [...this.held].sort((a, b) => a.event.seq - b.event.seq)) {
      if (named.event.seq <= this.lastSeq) {
        continue;
      }
      const applied = firstSeqOf(named.event) === this.lastSeq + 1 ? this.follow(named) : undefined;
      if (applied !== undefined) {
        this.lastSeq = named.event.seq;
        ready.push(applied);
      } else {
        rest.push(named);
      }
    }
    this.held = rest;
    return ready;
  }

  /** The connection came back (a new one, maybe to a restarted server): catch up from the last seq seen. */
  reconnected(): void {
    if (!this.joined && !this.joining) {
      return;
    }
    if (this.joining || this.resumingFrom !== undefined) {
      // What is in flight went out on the old connection: once it ends, start over.
      this.again = true;
      return;
    }
    this.want("resume");
  }

  /** Resume is about to be called from `afterSeq` (by {@link nextAction}, or by the app for a room it takes up). */
  beginResume(afterSeq: number): void {
    if (!this.joined && !this.joining) {
      this.joined = true;
      this.lastSeq = afterSeq;
    }
    this.resumingFrom = afterSeq;
  }

  /** Resume answered. A reset, or a room whose seq is now below the one resumed from (the server lost it), is joined afresh. */
  resumed(result: Pick<ResumeResult, "toSeq" | "reset">): void {
    const from = this.resumingFrom ?? this.lastSeq;
    this.resumingFrom = undefined;
    if (!this.joined) {
      return;
    }
    if (result.reset || result.toSeq < from) {
      this.again = false;
      this.wanted = "rejoin";
    } else if (this.again) {
      this.again = false;
      this.want("resume");
    }
  }

  /** Resume failed: refused (a restarted server answers "join room … before you resume it") means join afresh. */
  resumeFailed(): void {
    this.resumingFrom = undefined;
    if (!this.joined) {
      return;
    }
    if (this.again) {
      // It failed because the connection it went out on is gone; on the new one, try Resume again.
      this.again = false;
      this.want("resume");
      return;
    }
    this.wanted = "rejoin";
  }

  /**
   * What the client should do now; taking it marks it in flight. `resume`: call Resume from
   * `afterSeq`, then {@link resumed} or {@link resumeFailed}. `rejoin`: call JoinRoom (held events
   * wait for it), then {@link completeJoin} (the snapshot is a reset) or {@link abortJoin}.
   */
  nextAction(): TrackerAction {
    const wanted = this.wanted;
    this.wanted = "none";
    if (wanted === "resume" && this.joined && !this.joining && this.resumingFrom === undefined) {
      this.resumingFrom = this.lastSeq;
      return { kind: "resume", afterSeq: this.lastSeq };
    }
    if (wanted === "rejoin" && this.joined && !this.joining) {
      this.beginJoin();
      this.rejoin = true;
      this.resumingFrom = undefined;
      return { kind: "rejoin" };
    }
    return none;
  }

  /** The room was left: nothing more is tracked. */
  leave(): void {
    this.joined = false;
    this.joining = false;
    this.rejoin = false;
    this.resumingFrom = undefined;
    this.wanted = "none";
    this.again = false;
    this.running = undefined;
    this.held = [];
  }

  private want(action: "resume"): void {
    if (this.wanted === "none" && this.resumingFrom === undefined) {
      this.wanted = action;
    }
  }
}
