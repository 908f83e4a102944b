// tokens=compact: the deltas cross as t(roomId, seq, text) / tr(..., firstSeq) and the client tells the same story as over the contract.
import { describe, expect, inject, it } from "vitest";
import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { ChatClient, signInAsGuest, type AnyRoomEvent, type HubProtocolName } from "../src/client";
import type { StatusEvent, TokenEvent, ToolApprovalEvent } from "../src/contract";

const serverUrl = inject("serverUrl");

async function connect(name: string, protocol: HubProtocolName, options: { compact?: boolean; omit?: boolean } = {}): Promise<{ client: ChatClient; events: AnyRoomEvent[] }> {
  const session = await signInAsGuest(serverUrl, name);
  const client = new ChatClient({
    serverUrl,
    accessToken: session.token,
    protocol,
    logLevel: signalR.LogLevel.None,
    ...(options.compact ? { tokens: "compact" as const } : {}),
    ...(options.omit ? { finalText: "omit" as const } : {}),
  });
  const events: AnyRoomEvent[] = [];
  client.onEvent((named) => events.push(named));
  await client.start();
  return { client, events };
}

/** Resolves once `check` returns a value; events arrive on their own, this only looks after each one. */
function waitFor<T>(events: AnyRoomEvent[], check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const seen = check();
    if (seen !== undefined) {
      resolve(seen);
      return;
    }
    const timer = setTimeout(() => reject(new Error("timed out")), timeoutMs);
    const push = events.push.bind(events);
    events.push = (...items: AnyRoomEvent[]): number => {
      const length = push(...items);
      const value = check();
      if (value !== undefined) {
        clearTimeout(timer);
        events.push = push;
        resolve(value);
      }
      return length;
    };
  });
}

interface Frame {
  target: "rn" | "t" | "tr" | "token";
  args: unknown[];
}

/** A stock connection that asks for tokens=compact and records every token frame as it came. */
async function connectWire(name: string, protocol: HubProtocolName): Promise<{ connection: signalR.HubConnection; frames: Frame[]; final: Promise<StatusEvent> }> {
  const session = await signInAsGuest(serverUrl, name);
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(`${serverUrl}/hubs/chat?tokens=compact`, { accessTokenFactory: () => session.token })
    .configureLogging(signalR.LogLevel.None);
  if (protocol === "messagepack") {
    builder = builder.withHubProtocol(new MessagePackHubProtocol());
  }
  const connection = builder.build();
  const frames: Frame[] = [];
  for (const target of ["rn", "t", "tr", "token"] as const) {
    connection.on(target, (...args: unknown[]) => frames.push({ target, args }));
  }
  const final = new Promise<StatusEvent>((resolve) => {
    connection.on("status", (status: StatusEvent) => {
      if (status.state === "completed" || status.state === "cancelled" || status.state === "failed") {
        resolve(status);
      }
    });
  });
  await connection.start();
  return { connection, frames, final };
}

describe.each<HubProtocolName>(["json", "messagepack"])("compact token frames over %s", (protocol) => {
  it("a full reply reads the same over compact as over the contract, for a member there from the start and one who joins while it runs", async () => {
    const room = `ts-compact-${protocol}-${Date.now()}`;
    const alice = await connect(`compact-alice-${protocol}`, protocol);
    const bob = await connect(`compact-bob-${protocol}`, protocol, { compact: true, omit: true });
    const carol = await connect(`compact-carol-${protocol}`, protocol, { compact: true });
    const wire = await connectWire(`compact-wire-${protocol}`, protocol);
    try {
      await alice.client.joinRoom(room);
      await bob.client.joinRoom(room);
      await wire.connection.invoke("JoinRoom", room);

      // A reply that waits for a member's approval: Carol joins while it runs, before any of its deltas.
      const reply = await bob.client.ask(room, "please set the topic to Compact frames");
      const pending = await waitFor(alice.events, () => alice.events.map((n) => n.event).find((e): e is ToolApprovalEvent => "approvalId" in e && e.state === "pending"));
      const snapshot = await carol.client.joinRoom(room);
      expect(snapshot.activeGeneration?.generationId).toBe(reply.generationId);
      expect(await alice.client.decideToolCall(pending.approvalId, true)).toBe(true);

      const tokens: string[] = [];
      for await (const token of reply) {
        tokens.push(token);
      }
      const final = await alice.client.reply(room, reply.generationId).completion;
      expect(final.state).toBe("completed");
      expect(final.text?.length ?? 0).toBeGreaterThan(0);
      expect(tokens.join("")).toBe(final.text);
      expect((await reply.completion).text).toBe(final.text);
      expect((await carol.client.reply(room, reply.generationId).completion).text).toBe(final.text);

      const textOf = (events: AnyRoomEvent[]): string =>
        events.filter((n) => n.name === "token" && n.event.generationId === reply.generationId).map((n) => (n.event as TokenEvent).text).join("");
      expect(textOf(alice.events)).toBe(final.text);
      expect(textOf(bob.events)).toBe(final.text);
      expect(textOf(carol.events)).toBe(final.text);
      for (const member of [bob, carol]) {
        for (const named of member.events.filter((n) => n.name === "token")) {
          expect((named.event as TokenEvent).generationId).toBe(reply.generationId);
        }
      }

      // On the wire: the room's number announced first, then positional frames naming the room by it, no generation id, no contract token.
      expect((await wire.final).text).toBe(final.text);
      const [announcement, ...deltas] = wire.frames;
      expect(announcement?.target).toBe("rn");
      expect(announcement?.args[0]).toBe(room);
      const roomNumber = announcement?.args[1];
      expect(typeof roomNumber).toBe("number");
      expect(deltas.map((f) => f.args[2]).join("")).toBe(final.text);
      for (const frame of deltas) {
        expect(frame.target === "t" || frame.target === "tr").toBe(true);
        expect(frame.args[0]).toBe(roomNumber);
        expect(typeof frame.args[1]).toBe("number");
        expect(frame.args.length).toBe(frame.target === "t" ? 3 : 4);
      }
      const finalStatus = bob.events.find((n) => n.name === "status" && (n.event as StatusEvent).generationId === reply.generationId && (n.event as StatusEvent).state === "completed");
      expect((finalStatus?.event as StatusEvent | undefined)?.text).toBe(final.text);
    } finally {
      await Promise.all([alice.client.close(), bob.client.close(), carol.client.close(), wire.connection.stop()]);
    }
  });
});
