import { describe, expect, it } from "vitest";
import type { PresenceEvent, TokenEvent } from "../src/contract";
import { ObservableValue } from "../src/observable";
import { ReplyState } from "../src/reply";
import { parseMarkdown, safeHref } from "../src/markdown";
import { RoomTracker, type NamedEvent } from "../src/room-tracker";

const token = (seq: number, text: string, firstSeq?: number): NamedEvent => {
  const event: TokenEvent = { roomId: "r", generationId: "g", seq, text, ...(firstSeq === undefined ? {} : { firstSeq }) };
  return { name: "token", event };
};
const presence = (seq: number): NamedEvent => {
  const event: PresenceEvent = { roomId: "r", seq, userId: "u", name: "n", state: "joined" };
  return { name: "presence", event };
};

describe("RoomTracker", () => {
  it("holds events that arrive during JoinRoom and releases those after the snapshot's lastSeq, in order", () => {
    const room = new RoomTracker();
    room.beginJoin();
    expect(room.accept(token(6, "b"))).toBe("held");
    expect(room.accept(token(4, "old"))).toBe("held");
    expect(room.accept(token(5, "a"))).toBe("held");
    const released = room.completeJoin(4, undefined);
    expect(released.map((n) => n.event.seq)).toEqual([5, 6]);
    expect(room.lastSeq).toBe(6);
  });

  it("drops duplicates and reports a hole, then fills it once the missing events come", () => {
    const room = new RoomTracker();
    room.beginJoin();
    room.completeJoin(10, undefined);
    expect(room.accept(token(10, "dup"))).toBe("duplicate");
    expect(room.accept(token(11, "a"))).toBe("new");
    expect(room.accept(token(11, "a"))).toBe("duplicate");
    expect(room.accept(presence(14))).toBe("gap");
    expect(room.hasGap).toBe(true);
    expect(room.accept(token(12, "b"))).toBe("new");
    expect(room.drain()).toEqual([]);
    expect(room.accept(token(13, "c"))).toBe("new");
    expect(room.drain().map((n) => n.event.seq)).toEqual([14]);
    expect(room.hasGap).toBe(false);
    expect(room.lastSeq).toBe(14);
  });

  it("takes a run of joined token deltas (firstSeq..seq) as following on", () => {
    const room = new RoomTracker();
    room.beginJoin();
    room.completeJoin(3, undefined);
    expect(room.accept(token(7, "abcd", 4))).toBe("new");
    expect(room.lastSeq).toBe(7);
    expect(room.accept(token(10, "xy", 9))).toBe("gap");
  });

  it("does not apply a joined run that starts before the position: it waits until Resume re-sends the deltas", () => {
    const room = new RoomTracker();
    room.beginJoin();
    room.completeJoin(5, undefined);
    expect(room.accept(token(8, "cdef", 4))).toBe("gap");
    expect(room.lastSeq).toBe(5);
    expect(room.drain()).toEqual([]);
    for (const seq of [6, 7, 8]) {
      expect(room.accept(token(seq, "x"))).toBe("new");
    }
    expect(room.drain()).toEqual([]);
    expect(room.hasGap).toBe(false);
  });

  it("starts over from a fresh snapshot even when its lastSeq is lower (a restarted server)", () => {
    const room = new RoomTracker();
    room.beginJoin();
    room.completeJoin(50, undefined);
    room.beginJoin();
    expect(room.completeJoin(2, undefined)).toEqual([]);
    expect(room.accept(presence(3))).toBe("new");
  });
});

describe("ReplyState", () => {
  it("lets every reader iterate the tokens from the first, and ends them with the final status", async () => {
    const reply = new ReplyState();
    reply.pushToken("a");
    const early = (async () => {
      const seen: string[] = [];
      for await (const t of reply.iterate()) seen.push(t);
      return seen;
    })();
    reply.pushToken("b");
    reply.end({ roomId: "r", generationId: "g", seq: 3, state: "completed", text: "ab" });
    reply.pushToken("late");
    const late: string[] = [];
    for await (const t of reply.iterate()) late.push(t);
    expect(await early).toEqual(["a", "b"]);
    expect(late).toEqual(["a", "b"]);
    expect((await reply.completion).text).toBe("ab");
  });

  it("ends readers when abandoned", async () => {
    const reply = new ReplyState();
    reply.pushToken("a");
    const reading = (async () => {
      const seen: string[] = [];
      for await (const t of reply.iterate()) seen.push(t);
      return seen;
    })();
    reply.abandon();
    expect(await reading).toEqual(["a"]);
  });
});

describe("ObservableValue", () => {
  it("gives the current value at once and each change once", () => {
    const value = new ObservableValue<string>("offline");
    const seen: string[] = [];
    const unsubscribe = value.subscribe((v) => seen.push(v));
    value.set("connected");
    value.set("connected");
    value.set("reconnecting");
    unsubscribe();
    value.set("offline");
    expect(seen).toEqual(["offline", "connected", "reconnecting"]);
    expect(value.get()).toBe("offline");
  });
});

describe("markdown", () => {
  const types = (root: { children: { type: string }[] }) => root.children.map((n) => n.type);

  it("parses code blocks, lists, headings, block quotes and tables into a syntax tree", () => {
    const root = parseMarkdown("# Title\n\nSome **bold** and `code`.\n\n- one\n  - nested\n- two\n\n> quoted\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```ts\nconst a = 1 < 2;\n```");
    expect(types(root)).toEqual(["heading", "paragraph", "list", "blockquote", "table", "code"]);
    expect(root.children[5]).toMatchObject({ type: "code", lang: "ts", value: "const a = 1 < 2;" });
    const list = root.children[2] as unknown as { children: { children: { type: string }[] }[] };
    expect(list.children[0]?.children.map((n) => n.type)).toEqual(["paragraph", "list"]);
  });

  it("keeps a code block that is still streaming open to the end", () => {
    expect(parseMarkdown("```\nline 1\nline 2").children).toMatchObject([{ type: "code", value: "line 1\nline 2" }]);
  });

  it("keeps only http, https and mailto links; HTML is a node the renderer shows as text", () => {
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("https://example.com/x")).toBe("https://example.com/x");
    expect(safeHref("mailto:a@example.com")).toBe("mailto:a@example.com");
    expect(parseMarkdown("<img src=x onerror=alert(1)>").children).toMatchObject([{ type: "html", value: "<img src=x onerror=alert(1)>" }]);
    expect(parseMarkdown("see [docs](https://example.com)").children[0]).toMatchObject({
      type: "paragraph",
      children: [{ type: "text", value: "see " }, { type: "link", url: "https://example.com", children: [{ type: "text", value: "docs" }] }],
    });
  });
});
