import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LogLevel } from "@microsoft/signalr";
import { ChatClient, errorText, signInAsGuest, type AnyRoomEvent, type ConnectionState, type HubProtocolName } from "../src/client";
import type { RoomSnapshot, StatusEvent } from "../src/contract";
import { connectStock } from "./helpers";
import { freePort, startServer, type RunningServer } from "./server";

const serverUrl = inject("serverUrl");

async function connect(url: string, name: string, protocol: HubProtocolName = "json"): Promise<ChatClient> {
  const session = await signInAsGuest(url, name);
  const client = new ChatClient({ serverUrl: url, accessToken: session.token, protocol, reconnectDelaysMs: [0, 200, 500], logLevel: LogLevel.None });
  await client.start();
  return client;
}

/** Records every event a client hands out, to check order and uniqueness. */
function record(client: ChatClient): AnyRoomEvent[] {
  const seen: AnyRoomEvent[] = [];
  client.onEvent((named) => seen.push(named));
  return seen;
}

function waitForState(client: ChatClient, state: ConnectionState, timeoutMs = 30_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection never became ${state}`)), timeoutMs);
    const unsubscribe = client.state.subscribe((value) => {
      if (value === state) {
        clearTimeout(timer);
        queueMicrotask(() => unsubscribe());
        resolve();
      }
    });
  });
}

function expectContiguous(events: AnyRoomEvent[], roomId: string, afterSeq: number): void {
  let expected = afterSeq + 1;
  for (const { event } of events.filter((n) => n.event.roomId === roomId)) {
    const first = "firstSeq" in event && typeof event.firstSeq === "number" ? event.firstSeq : event.seq;
    expect(first).toBe(expected);
    expected = event.seq + 1;
  }
}

describe.each<HubProtocolName>(["json", "messagepack"])("the TypeScript client over %s", (protocol) => {
  it("streams a reply as an async iterator of tokens that add up to the final text, with camelCase fields", async () => {
    const room = `ts-${protocol}-ask`;
    const alice = await connect(serverUrl, `ts-alice-${protocol}`, protocol);
    const bob = await connect(serverUrl, `ts-bob-${protocol}`, protocol);
    try {
      const snapshot = await alice.joinRoom(room);
      expect(snapshot).toMatchObject({ roomId: room, activeGeneration: null });
      expect(typeof snapshot.lastSeq).toBe("number");
      await bob.joinRoom(room);
      const bobEvents = record(bob);

      const reply = await alice.ask(room, "hello from the typed client");
      const tokens: string[] = [];
      for await (const token of reply) {
        tokens.push(token);
      }
      const final = await reply.completion;
      expect(final.state).toBe("completed");
      // A slow reader may get several deltas joined into one; the text is the same.
      expect(tokens.length).toBeGreaterThan(1);
      expect(tokens.length).toBeLessThanOrEqual(20);
      expect(tokens.join("")).toBe(final.text);

      // Bob sees the same reply, in order, with the contract's field names on this protocol.
      const bobFinal = await bob.reply(room, reply.generationId).completion;
      expect(bobFinal.text).toBe(final.text);
      const message = bobEvents.find((n) => n.name === "message");
      expect(message?.event).toMatchObject({ roomId: room, message: { role: "user", text: "hello from the typed client", state: "completed" } });
      if (message?.name === "message") {
        expect(typeof message.event.message.createdAt).toBe("string");
        expect(Number.isNaN(Date.parse(message.event.message.createdAt))).toBe(false);
      }
      const firstToken = bobEvents.find((n) => n.name === "token");
      // firstSeq is there only when deltas that waited together went out joined.
      expect(Object.keys(firstToken?.event ?? {}).filter((key) => key !== "firstSeq").sort()).toEqual(["generationId", "roomId", "seq", "text"]);
      expectContiguous(bobEvents, room, bobEvents[0] ? bobEvents[0].event.seq - 1 : 0);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });

  it("reports tool progress by tool name and the calculator's answer", async () => {
    const room = `ts-${protocol}-tool`;
    const alice = await connect(serverUrl, `ts-tool-${protocol}`, protocol);
    try {
      await alice.joinRoom(room);
      const phases: string[] = [];
      alice.on("toolProgress", (e) => phases.push(`${e.tool}:${e.phase}`));
      const reply = await alice.ask(room, "calculate 17*23");
      const final = await reply.completion;
      expect(final.state).toBe("completed");
      expect(final.text).toContain("391");
      expect(phases[0]).toBe("calculator:started");
      expect(phases.at(-1)).toBe("calculator:completed");
    } finally {
      await alice.close();
    }
  });

  it("answers bad input with a clear error and stays connected", async () => {
    const alice = await connect(serverUrl, `ts-bad-${protocol}`, protocol);
    try {
      await expect(alice.joinRoom("no spaces")).rejects.toThrow(/invalid room id/);
      await expect(alice.sendMessage("not-joined-here", "hi")).rejects.toThrow(/join room 'not-joined-here'/);
      await expect(alice.createRoom("ts-vis", { visibility: "secret" as "public" })).rejects.toThrow(/visibility/);
      const error = await alice.sendMessage("not-joined-here", "hi").catch((e: unknown) => e);
      expect(errorText(error)).toMatch(/^join room/);
      expect(alice.state.get()).toBe("connected");
      const snapshot = await alice.createRoom(`ts-private-${protocol}`, { visibility: "private" });
      expect(snapshot.members).toHaveLength(1);
    } finally {
      await alice.close();
    }
  });
});

describe("stopping and catching up (a slow offline model)", () => {
  let slow: RunningServer;
  beforeAll(async () => {
    slow = await startServer({ "Chat:Offline:TokenDelayMs": "30", "Chat:Offline:ReplyTokens": "400" });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  it.each<HubProtocolName>(["json", "messagepack"])("stop() cancels the generation for everyone, keeping the partial text (%s)", async (protocol) => {
    const room = `ts-stop-${protocol}`;
    const alice = await connect(slow.url, "stop-alice", protocol);
    const bob = await connect(slow.url, "stop-bob", protocol);
    try {
      await alice.joinRoom(room);
      await bob.joinRoom(room);
      const reply = await alice.ask(room, "a long answer please");
      const tokens: string[] = [];
      for await (const token of reply) {
        tokens.push(token);
        if (tokens.length === 3) {
          expect(await reply.stop()).toBe(true);
        }
      }
      const final = await reply.completion;
      expect(final.state).toBe("cancelled");
      expect(final.text).toBe(tokens.join(""));
      const bobFinal: StatusEvent = await bob.reply(room, reply.generationId).completion;
      expect(bobFinal.state).toBe("cancelled");
      expect(bobFinal.text).toBe(final.text);
      expect(await reply.stop()).toBe(false);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });

  it.each<HubProtocolName>(["json", "messagepack"])("with finalText omit, the final status crosses without its text and the client puts it back, joining mid-reply (%s)", async (protocol) => {
    const room = `ts-final-text-${protocol}`;
    const alice = await connect(slow.url, `final-alice-${protocol}`, protocol);
    const bobSession = await signInAsGuest(slow.url, `final-bob-${protocol}`);
    const bob = new ChatClient({ serverUrl: slow.url, accessToken: bobSession.token, protocol, finalText: "omit", logLevel: LogLevel.None });
    const wire = await connectStock(slow.url, (await signInAsGuest(slow.url, `final-wire-${protocol}`)).token, "?finalText=omit");
    try {
      await alice.joinRoom(room);
      await wire.connection.invoke("JoinRoom", room);
      const reply = await alice.ask(room, "a reply to build from deltas");
      let seen = 0;
      for await (const token of reply) {
        if (token && ++seen === 5) {
          break;
        }
      }
      // Bob comes in mid-reply: the snapshot has the text so far, the deltas the rest; then the reply is stopped.
      await bob.start();
      const bobEvents = record(bob);
      const snapshot = await bob.joinRoom(room);
      expect(snapshot.activeGeneration?.generationId).toBe(reply.generationId);
      await reply.stop();
      const final = await reply.completion;
      const bobFinal = await bob.reply(room, reply.generationId).completion;
      expect(bobFinal.text).toBe(final.text);
      expect(bobEvents.find((n) => n.name === "status" && n.event.generationId === reply.generationId && n.event.state === final.state)?.event).toMatchObject({ text: final.text });

      const onWire = await wire.waitFor((r) => r.name === "status" && (r.event as StatusEvent).generationId === reply.generationId && (r.event as StatusEvent).state === final.state);
      expect((onWire.event as StatusEvent).text).toBeUndefined();
    } finally {
      await Promise.all([alice.close(), bob.close(), wire.connection.stop()]);
    }
  });

  it("resumes after the transport drops mid-reply: no gap, no doubled token", async () => {
    const room = "ts-resume";
    const alice = await connect(slow.url, "resume-alice");
    const bob = await connect(slow.url, "resume-bob");
    try {
      // Recorded from before the join, so bob's presence (which may reach alice before or after his
      // JoinRoom returns) is always among the events checked after alice's snapshot.
      const recorded = record(alice);
      const snapshot = await alice.joinRoom(room);
      await bob.joinRoom(room);
      const states: ConnectionState[] = [];
      alice.state.subscribe((s) => states.push(s));
      let resets = 0;
      alice.onRoomReset(() => resets++);

      const reply = await bob.ask(room, "keep talking");
      const aliceReply = alice.reply(room, reply.generationId);
      const iterator = aliceReply[Symbol.asyncIterator]();
      await iterator.next();
      await iterator.next();

      // Drop the transport under the hub connection, as a network failure would.
      const transport = (alice.connection as unknown as { connection: { stop(error?: Error): Promise<void> } }).connection;
      await transport.stop(new Error("network dropped (test)"));
      await waitForState(alice, "connected");
      await bob.reply(room, reply.generationId).stop();

      const final = await aliceReply.completion;
      const bobFinal = await bob.reply(room, reply.generationId).completion;
      expect(states).toContain("reconnecting");
      expect(resets).toBe(0); // caught up with Resume, not by joining afresh
      expect(final.text).toBe(bobFinal.text);
      const events = recorded.filter((n) => n.event.seq > snapshot.lastSeq);
      expect(events[0]?.name).toBe("presence");
      const tokenText = events.filter((n) => n.name === "token" && n.event.generationId === reply.generationId).map((n) => (n.name === "token" ? n.event.text : "")).join("");
      expect(tokenText).toBe(final.text);
      expectContiguous(events, room, snapshot.lastSeq);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });
});

describe("a server restart", () => {
  it("shows reconnecting, then both members join the room afresh and see each other's message and its reply", async () => {
    const port = await freePort();
    // The same signing key on both runs, so the tokens the clients hold stay valid across the restart.
    const settings = { "Chat:Auth:SigningKey": "a-test-signing-key-that-is-long-enough-0123456789" };
    let server = await startServer(settings, 60_000, port);
    const room = "ts-restart";
    const alice = await connect(server.url, "restart-alice");
    const bob = await connect(server.url, "restart-bob");
    try {
      await alice.joinRoom(room);
      await bob.joinRoom(room);
      await (await alice.ask(room, "before the restart")).completion;
      const seqBefore = alice.lastSeq(room);
      const aliceBack = rejoined(alice, room);
      const bobBack = rejoined(bob, room);
      const seen = record(alice);

      await server.kill();
      await waitForState(alice, "reconnecting");
      server = await startServer(settings, 60_000, port);

      // In memory the room starts over: its new snapshot (seq from 1) is the position, not the higher one seen before.
      const snapshot = await aliceBack;
      await bobBack;
      expect(snapshot.lastSeq).toBeLessThan(seqBefore);
      // (Bob's presence may or may not have followed alice's snapshot by now; either way the position is the new room's.)
      expect(alice.lastSeq(room)).toBeLessThan(seqBefore);

      const after = await bob.ask(room, "after the restart");
      const final = await alice.reply(room, after.generationId).completion;
      expect(final.state).toBe("completed");
      expect(final.text).toBe((await after.completion).text);
      const message = seen.find((n) => n.name === "message" && n.event.message.messageId === after.messageId);
      expect(message?.name === "message" ? message.event.message.text : undefined).toBe("after the restart");
      const tokens = seen.filter((n) => n.name === "token" && n.event.generationId === after.generationId).map((n) => (n.name === "token" ? n.event.text : ""));
      expect(tokens.join("")).toBe(final.text);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
      await server.stop();
    }
  });
});

describe("a server killed mid-reply", () => {
  it("ends the reply it was streaming as failed once the room is joined afresh, and the room goes on", async () => {
    const port = await freePort();
    const settings = { "Chat:Auth:SigningKey": "a-test-signing-key-that-is-long-enough-0123456789", "Chat:Offline:TokenDelayMs": "10", "Chat:Offline:ReplyTokens": "3000" };
    let server = await startServer(settings, 60_000, port);
    const room = "ts-killed-mid-reply";
    const alice = await connect(server.url, "killed-alice");
    try {
      await alice.joinRoom(room);
      const back = rejoined(alice, room);
      const reply = await alice.ask(room, "a long story");
      const tokens: string[] = [];
      const reading = (async () => {
        for await (const token of reply) {
          tokens.push(token);
        }
      })();
      await expect.poll(() => tokens.length, { timeout: 20_000 }).toBeGreaterThan(2);

      // Killed: no last status gets out; the restarted server has no such reply.
      await server.kill();
      server = await startServer(settings, 60_000, port);
      await back;
      const final = await reply.completion;
      expect(final.state).toBe("failed");
      expect(final.error).toMatch(/restarted/);
      await reading;
      expect(final.text).toBe(tokens.join(""));

      const after = await alice.ask(room, "still there?");
      expect((await after[Symbol.asyncIterator]().next()).done).toBe(false);
      expect(await after.stop()).toBe(true);
    } finally {
      await alice.close();
      await server.stop();
    }
  });
});

/** The next snapshot of a room that the client had to join afresh. */
function rejoined(client: ChatClient, roomId: string, timeoutMs = 60_000): Promise<RoomSnapshot> {
  return new Promise<RoomSnapshot>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${roomId} was never joined afresh`)), timeoutMs);
    const unsubscribe = client.onRoomReset((snapshot) => {
      if (snapshot.roomId === roomId) {
        clearTimeout(timer);
        unsubscribe();
        resolve(snapshot);
      }
    });
  });
}
