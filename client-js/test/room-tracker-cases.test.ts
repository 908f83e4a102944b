// Runs the room tracker's table of cases (tests/cases/room-tracker.json), which the .NET client's tracker runs too.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { PresenceEvent, TokenEvent } from "../src/contract";
import { RoomTracker, type NamedEvent } from "../src/room-tracker";

interface Step {
  join?: true;
  snapshot?: number;
  joinFailed?: string;
  event?: { seq: number; firstSeq?: number; kind?: "token" | "presence" };
  reconnect?: true;
  resumed?: { toSeq: number; reset: boolean };
  resumeRefused?: string;
  resume?: number;
  leave?: true;
  out: Output[];
}

type Output = { snapshot: number; reset: boolean } | { apply: number; firstSeq?: number } | { resume: number } | { rejoin: true };

interface Case {
  name: string;
  steps: Step[];
}

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "tests", "cases", "room-tracker.json");
const cases = (JSON.parse(readFileSync(file, "utf8")) as { cases: Case[] }).cases;

function eventOf(input: NonNullable<Step["event"]>): NamedEvent {
  if (input.kind === "presence") {
    const event: PresenceEvent = { roomId: "r", seq: input.seq, userId: "u", name: "n", state: "joined" };
    return { name: "presence", event };
  }
  const event: TokenEvent = { roomId: "r", generationId: "g", seq: input.seq, text: "t", ...(input.firstSeq === undefined ? {} : { firstSeq: input.firstSeq }) };
  return { name: "token", event };
}

function applied(named: NamedEvent): Output {
  return "firstSeq" in named.event && typeof named.event.firstSeq === "number" ? { apply: named.event.seq, firstSeq: named.event.firstSeq } : { apply: named.event.seq };
}

/** Feeds one input to the tracker as the client does, and returns what follows from it. */
function run(tracker: RoomTracker, step: Step): Output[] {
  const out: Output[] = [];
  if (step.join) {
    tracker.beginJoin();
  } else if (step.snapshot !== undefined) {
    const reset = tracker.rejoining;
    const ready = tracker.completeJoin(step.snapshot);
    out.push({ snapshot: step.snapshot, reset }, ...ready.map(applied));
  } else if (step.joinFailed !== undefined) {
    tracker.abortJoin();
  } else if (step.event) {
    out.push(...tracker.receive(eventOf(step.event)).map(applied));
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
    c.steps.forEach((step, index) => {
      const { out: expected, ...input } = step;
      expect(run(tracker, step), `step ${index + 1}: ${JSON.stringify(input)}`).toEqual(expected);
    });
  });
});
