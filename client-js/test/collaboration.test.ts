import { describe, expect, inject, it } from "vitest";
import { LogLevel } from "@microsoft/signalr";
import { ChatClient, signInAsGuest } from "../src/client";
import type { AnyRoomEvent, ToolApprovalEvent, TypingEvent } from "../src/index";
import { stoppedText } from "../src/contract";

const serverUrl = inject("serverUrl");

async function connect(name: string): Promise<{ client: ChatClient; userId: string; events: AnyRoomEvent[] }> {
  const session = await signInAsGuest(serverUrl, name);
  const client = new ChatClient({ serverUrl, accessToken: session.token, logLevel: LogLevel.None });
  const events: AnyRoomEvent[] = [];
  client.onEvent((named) => events.push(named));
  await client.start();
  return { client, userId: session.userId, events };
}

function waitFor<T>(check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      const value = check();
      if (value !== undefined) {
        resolve(value);
      } else if (Date.now() - started > timeoutMs) {
        reject(new Error("timed out"));
      } else {
        setTimeout(tick, 20);
      }
    };
    tick();
  });
}

describe("working together, from the TypeScript client", () => {
  it("changes settings, sees typing, decides a tool call, regenerates and says who stopped a reply", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const typing: TypingEvent[] = [];
    bob.client.onTyping((e) => typing.push(e));
    try {
      const room = `ts-together-${Date.now()}`;
      const snapshot = await alice.client.joinRoom(room);
      expect(snapshot.settings).toEqual({ assistant: "always", onBusy: "queue", topic: null });
      await bob.client.joinRoom(room);

      expect(await bob.client.updateRoomSettings(room, { assistant: "mentioned" })).toEqual({ assistant: "mentioned", onBusy: "queue", topic: null });
      expect((await alice.client.sendMessage(room, "hi bob")).generationId).toBeNull();
      await expect(alice.client.ask(room, "no mention")).rejects.toThrow(/@assistant/);

      await alice.client.typing(room);
      const seen = await waitFor(() => typing[0]);
      expect(seen).toEqual({ roomId: room, userId: alice.userId, name: "alice" });

      const asked = await alice.client.ask(room, "@assistant please set the topic to Typed plans");
      const pending = await waitFor(() => bob.events.map((n) => n.event).find((e): e is ToolApprovalEvent => "approvalId" in e && e.state === "pending"));
      expect(await bob.client.decideToolCall(pending.approvalId, true)).toBe(true);
      expect(await alice.client.decideToolCall(pending.approvalId, false)).toBe(false);
      const done = await asked.completion;
      expect(done.state).toBe("completed");
      expect(alice.events.some((n) => n.name === "roomSettings" && n.event.settings.topic === "Typed plans")).toBe(true);

      const again = await alice.client.regenerate(room, done.messageId ?? "");
      expect(again.generationId).not.toBeNull();
      // The new reply asks for the topic tool again; bob stops it while it waits, which ends the approval as expired.
      const reply = alice.client.reply(room, again.generationId ?? "");
      await waitFor(() => bob.events.map((n) => n.event).find((e) => "approvalId" in e && e.state === "pending" && e.generationId === again.generationId));
      expect(await bob.client.cancelGeneration(again.generationId ?? "")).toBe(true);
      const stopped = await reply.completion;
      expect(stopped.state).toBe("cancelled");
      expect(stopped.cancelledBy).toEqual({ userId: bob.userId, name: "bob" });
      expect(stopped.reason).toBe("stopped");
      expect(stoppedText(stopped)).toBe("stopped by bob");
      await waitFor(() => alice.events.find((n) => n.name === "toolApproval" && n.event.generationId === again.generationId && n.event.state === "expired"));
      const started = alice.events.find((n) => n.name === "message" && n.event.message.role === "assistant" && n.event.message.regenerates === done.messageId);
      expect(started).toBeDefined();
    } finally {
      await Promise.all([alice.client.close(), bob.client.close()]);
    }
  });
});
