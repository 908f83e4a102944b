import { afterAll, describe, expect, inject, it } from "vitest";
import { LogLevel } from "@microsoft/signalr";
import { ChatClient, errorText, signInAsGuest } from "../src/client";
import type { GuestSession, InvitedEvent, ReadMarkEvent, RoomActivityEvent } from "../src/contract";

const serverUrl = inject("serverUrl");
const clients: ChatClient[] = [];

async function connect(session: GuestSession): Promise<ChatClient> {
  const client = new ChatClient({ serverUrl, accessToken: session.token, reconnectDelaysMs: [0, 200, 500], logLevel: LogLevel.None });
  await client.start();
  // The handshake is answered before the server has registered the connection for messages to its
  // user; a hub call is only served once that set-up is done.
  await client.listRooms();
  clients.push(client);
  return client;
}

function next<T>(subscribe: (handler: (event: T) => void) => () => void, match: (event: T) => boolean, timeoutMs = 20_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the event never came")), timeoutMs);
    const unsubscribe = subscribe((event) => {
      if (match(event)) {
        clearTimeout(timer);
        unsubscribe();
        resolve(event);
      }
    });
  });
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe("history, room list and read marks", () => {
  it("pages back through a room, lists the person's rooms and clears unread on every device", async () => {
    const room = `hist-${Date.now()}`;
    const alice = await connect(await signInAsGuest(serverUrl, "alice"));
    const bobSession = await signInAsGuest(serverUrl, "bob");
    const bobLaptop = await connect(bobSession);
    const bobPhone = await connect(bobSession);

    const invited = next<InvitedEvent>((h) => bobPhone.onUserEvent("invited", h), (e) => e.roomId === room);
    await alice.createRoom(room, { visibility: "private" });
    await alice.inviteToRoom(room, bobSession.userId);
    expect((await invited).invitedBy.name).toBe("alice");

    const activity = next<RoomActivityEvent>((h) => bobPhone.onUserEvent("roomActivity", h), (e) => e.roomId === room && e.lastMessage.authorName === "Assistant");
    const reply = await alice.ask(room, "hello bob");
    await reply.completion;
    expect((await activity).unread).toBe(2);

    const history = await alice.getHistory(room, 0, 1);
    expect(history.messages.map((m) => m.role)).toEqual(["assistant"]);
    expect(history.hasMore).toBe(true);
    const older = await alice.getHistory(room, history.messages[0]!.seq, 200);
    expect(older.messages.map((m) => m.text)).toEqual(["hello bob"]);
    expect(older.hasMore).toBe(false);

    const listed = await bobPhone.listRooms();
    expect(listed.map((r) => [r.roomId, r.visibility, r.unread])).toEqual([[room, "private", 2]]);

    const mark = next<ReadMarkEvent>((h) => bobPhone.onUserEvent("readMark", h), (e) => e.roomId === room);
    const snapshot = await bobLaptop.joinRoom(room);
    await bobLaptop.markRead(room, snapshot.lastSeq);
    expect((await mark).seq).toBe(snapshot.lastSeq);
    expect((await bobPhone.listRooms())[0]?.unread).toBe(0);

    await expect(alice.getHistory(room, 0, 500)).rejects.toSatisfy((e: unknown) => errorText(e).includes("limit must be 1 to 200"));
  });

  it("closes a room on one connection and keeps it in the person's list", async () => {
    const room = `closed-${Date.now()}`;
    const session = await signInAsGuest(serverUrl, "carol");
    const carol = await connect(session);
    const dave = await connect(await signInAsGuest(serverUrl, "dave"));
    await carol.joinRoom(room);
    await dave.joinRoom(room);

    await carol.closeRoom(room);
    const reply = await dave.ask(room, "hello carol");
    await reply.completion;

    // Still a member: the room is listed with what she has not read, and opening it again shows the conversation.
    const listed = (await carol.listRooms()).find((r) => r.roomId === room);
    expect(listed?.unread).toBe(2);
    const snapshot = await carol.joinRoom(room);
    expect(snapshot.messages.map((m) => m.text)).toContain("hello carol");
  });
});
