// Runs the room tracker's table of cases (tests/cases/room-tracker.json), which the .NET client's tracker runs too.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { PresenceEvent, StatusEvent, TokenEvent } from "../src/contract";
import { RoomTracker, type NamedEvent } from "../src/room-tracker";

interface Step {
  join?: true;
  snapshot?: number;
  running?: string;
  joinFailed?: string;
  event?: { seq: number; firstSeq?: number; kind?: "token" | "t" | "status" | "presence"; generationId?: string; state?: StatusEvent["state"] };
  reconnect?: true;
  resumed?: { toSeq: number; reset: boolean };
  resumeRefused?: string;
  resume?: number;
  leave?: true;
  out: Output[];
}

type Output = { snapshot: number; reset: boolean } | { apply: number; firstSeq?: number; generationId?: string } | { resume: number } | { rejoin: true };

interface Case {
  name: string;
  steps: Step[];
}

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "tests", "cases", "room-tracker.json");
const cases = (JSON.parse(readFileSync(file, "utf8")) as { cases: Case[] }).cases;

/** An input event: a contract token (generation "g") by default, `t` a compact one (no generation id), a status, or a presence. */
function eventOf(input: NonNullable<Step["event"]>): NamedEvent {
  if (input.kind === "presence") {
    const event: PresenceEvent = { roomId: "r", seq: input.seq, userId: "u", name: "n", state: "joined" };
    return { name: "presence", event };
  }
  if (input.kind === "status") {
    const event: StatusEvent = { roomId: "r", generationId: input.generationId ?? "", seq: input.seq, state: input.state ?? "thinking" };
    return { name: "status", event };
  }
  const generationId = input.kind === "t" ? "" : "g";
  const event: TokenEvent = { roomId: "r", generationId, seq: input.seq, text: "t", ...(input.firstSeq === undefined ? {} : { firstSeq: input.firstSeq }) };
  return { name: "token", event };
}

/** What the app is handed; for a compact delta, with the generation the tracker gave it. */
function applied(named: NamedEvent, compact: Set<number>): Output {
  const output: { apply: number; firstSeq?: number; generationId?: string } = { apply: named.event.seq };
  if ("firstSeq" in named.event && typeof named.event.firstSeq === "number") {
    output.firstSeq = named.event.firstSeq;
  }
  if (named.name === "token" && compact.has(named.event.seq)) {
    output.generationId = (named.event as TokenEvent).generationId;
  }
  return output;
}

/** Feeds one input to the tracker as the client does, and returns what follows from it. */
function run(tracker: RoomTracker, step: Step, compact: Set<number>): Output[] {
  const out: Output[] = [];
  const apply = (named: NamedEvent): Output => applied(named, compact);
  if (step.join) {
    tracker.beginJoin();
  } else if (step.snapshot !== undefined) {
    const reset = tracker.rejoining;
    const ready = tracker.completeJoin(step.snapshot, step.running);
    out.push({ snapshot: step.snapshot, reset }, ...ready.map(apply));
  } else if (step.joinFailed !== undefined) {
    tracker.abortJoin();
  } else if (step.event) {
    if (step.event.kind === "t") {
      compact.add(step.event.seq);
    }
    out.push(...tracker.receive(eventOf(step.event)).map(apply));
  } else if (step.reconnect) {
    tracker.reconnected();
  } else if (step.resumed) {
    tracker.resumed(step.resumed);
  } else if (step.resumeRefused !== undefined) {
    tracker.resumeFailed();
  } else if (step.resume !== undefined) {
    tracker.beginResume(step.resume);
  } else if (step.leave) {
    tracker.leave();
  } else {
    throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
  const action = tracker.nextAction();
  if (action.kind === "resume") {
    out.push({ resume: action.afterSeq });
  } else if (action.kind === "rejoin") {
    out.push({ rejoin: true });
  }
  return out;
}

describe("the room tracker's table of cases", () => {
  it("has cases", () => {
    expect(cases.length).toBeGreaterThan(10);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const tracker = new RoomTracker();
    const compact = new Set<number>();
    c.steps.forEach((step, index) => {
      const { out: expected, ...input } = step;
      expect(run(tracker, step, compact), `step ${index + 1}: ${JSON.stringify(input)}`).toEqual(expected);
    });
  });
});
