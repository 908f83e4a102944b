import { describe, expect, inject, it } from "vitest";
import type { RoomSnapshot, SendMessageResult, StatusEvent, TokenEvent } from "../src/contract";
import { connectStock, signIn } from "./helpers";

const serverUrl = inject("serverUrl");

describe("the stock @microsoft/signalr client on the public contract", () => {
  it("joins, sends, and receives the reply as token deltas ending in a final status", async () => {
    const session = await signIn(serverUrl, "js-alice");
    const alice = await connectStock(serverUrl, session.token);
    try {
      const snapshot = await alice.connection.invoke<RoomSnapshot>("JoinRoom", "js-lobby");
      expect(snapshot.roomId).toBe("js-lobby");
      expect(snapshot.members.map((m) => m.name)).toContain("js-alice");

      const sent = await alice.connection.invoke<SendMessageResult>("SendMessage", "js-lobby", "hello from node");
      const final = (await alice.waitFor((r) => r.name === "status" && (r.event as StatusEvent).generationId === sent.generationId && ["completed", "cancelled", "failed"].includes((r.event as StatusEvent).state))).event as StatusEvent;

      expect(final.state).toBe("completed");
      // A reader that falls behind (a busy machine) may get several deltas joined into one, covering firstSeq..seq.
      const tokens = alice.events.filter((r) => r.name === "token").map((r) => r.event as TokenEvent);
      expect(tokens.reduce((covered, t) => covered + t.seq - (t.firstSeq ?? t.seq) + 1, 0)).toBe(20);
      expect(tokens.map((t) => t.text).join("")).toBe(final.text);
      let next = snapshot.lastSeq + 1;
      for (const { event } of alice.events) {
        expect("firstSeq" in event && typeof event.firstSeq === "number" ? event.firstSeq : event.seq).toBe(next);
        next = event.seq + 1;
      }
    } finally {
      await alice.connection.stop();
    }
  });

  it("gets a clear error for bad input and keeps the connection", async () => {
    const session = await signIn(serverUrl, "js-bob");
    const bob = await connectStock(serverUrl, session.token);
    try {
      await expect(bob.connection.invoke("JoinRoom", "no spaces allowed")).rejects.toThrow(/invalid room id/);
      await expect(bob.connection.invoke("SendMessage", "never-joined", "hi")).rejects.toThrow(/join room 'never-joined'/);
      const snapshot = await bob.connection.invoke<RoomSnapshot>("JoinRoom", "js-ok");
      expect(snapshot.roomId).toBe("js-ok");
    } finally {
      await bob.connection.stop();
    }
  });
});
