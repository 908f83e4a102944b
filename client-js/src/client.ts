import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import type {
  GuestSession,
  HistoryPage,
  ResumeResult,
  RoomEvent,
  RoomEventMap,
  RoomEventName,
  RoomSettings,
  RoomSettingsUpdate,
  RoomSnapshot,
  RoomSummary,
  SendMessageResult,
  StatusEvent,
  TokenEvent,
  ToolProgressEvent,
  UserEventMap,
  UserEventName,
  TypingEvent,
} from "./contract";
import { isFinal, roomEventNames, userEventNames } from "./contract";
import { ObservableValue, type Observable } from "./observable";
import { ReplyState } from "./reply";
import { RoomTracker, type NamedEvent, type TrackerAction } from "./room-tracker";

export const hubPath = "/hubs/chat";

/** The connection as a person would name it. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

export type HubProtocolName = "json" | "messagepack";

export interface ChatClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:5000`; empty for the page's own origin. */
  serverUrl?: string;
  /** The bearer token, or a function that returns it (called on every connect and reconnect). */
  accessToken: string | (() => string | Promise<string>);
  /** The hub protocol on the wire: `json` (default) or `messagepack`. */
  protocol?: HubProtocolName;
  /** Delays between reconnect attempts in ms; the last one repeats for as long as it takes. */
  reconnectDelaysMs?: readonly number[];
  logLevel?: signalR.LogLevel;
  /** Restricts the transports, e.g. `HttpTransportType.WebSockets`. */
  transport?: signalR.HttpTransportType;
  /**
   * `omit` asks the server to leave the whole text out of final statuses (`finalText=omit`): the
   * client puts it back from the snapshot and the deltas, so handlers see the same events while a
   * reply's text crosses the wire once instead of twice. Default `include`.
   */
  finalText?: "include" | "omit";
  /**
   * Connect with a single-use ticket (`POST /api/auth/ticket`, bought with the token in a header) instead of the
   * token itself, fetched afresh for every connect and reconnect. A browser puts what the connection carries in the
   * WebSocket's URL (`?access_token=`), where proxies may log it; a ticket found there is worthless once used or
   * 30 s old. Default: on in a browser (unless `transport` names another transport than WebSockets), off elsewhere,
   * where the token travels in a header. With tickets the client connects over WebSockets without negotiating.
   */
  tickets?: boolean;
  /**
   * `compact` asks the server for token deltas in the compact shape (`tokens=compact`: `t` and `tr`,
   * positional arguments, the room by its number announced in `rn`, no generation id): the client gives each the id of the reply running in
   * its room, so handlers see the same `token` events while each delta costs a fraction of the
   * framing. Default `contract`.
   */
  tokens?: "contract" | "compact";
}

/** A single-use ticket for the query string of the hub or the event stream. */
export interface Ticket {
  ticket: string;
  /** ISO 8601; the ticket is refused afterwards, and after its first use. */
  expiresAt: string;
}

/** Buys a single-use ticket with the token in the `Authorization` header: `POST /api/auth/ticket`. */
export async function getTicket(serverUrl: string, token: string): Promise<Ticket> {
  const response = await fetch(`${serverUrl}/api/auth/ticket`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = typeof body === "object" && body !== null && "error" in body && typeof body.error === "string" ? body.error : `no ticket (${response.status})`;
    throw new Error(error);
  }
  return body as Ticket;
}

/** True where the stock client carries the token in URLs (a browser page or worker), not in headers (Node). */
function inBrowser(): boolean {
  return typeof document !== "undefined" || (typeof self === "object" && typeof (self as { importScripts?: unknown }).importScripts === "function");
}

/** A room event with its name, for handlers that take every event. */
export type AnyRoomEvent = { [K in RoomEventName]: { name: K; event: RoomEventMap[K] } }[RoomEventName];

/** A reply as it streams: iterate it for token deltas; `completion` is its final status. */
export interface ChatReply extends AsyncIterable<string> {
  readonly roomId: string;
  readonly messageId: string;
  readonly generationId: string;
  /** The final status (completed, cancelled with the partial text, or failed with its error). */
  readonly completion: Promise<StatusEvent>;
  /** The token deltas, from the first, until the reply ends. */
  tokens(): AsyncIterable<string>;
  /** Stops the generation for everyone in the room; true if this call stopped it. */
  stop(): Promise<boolean>;
}

const defaultReconnectDelaysMs = [0, 500, 1000, 2000, 5000, 10000];
const rememberedReplies = 256;

/** Signs in as a guest: `POST /api/auth/guest`. */
export async function signInAsGuest(serverUrl: string, name: string): Promise<GuestSession> {
  const response = await fetch(`${serverUrl}/api/auth/guest`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = typeof body === "object" && body !== null && "error" in body && typeof body.error === "string" ? body.error : `sign-in failed (${response.status})`;
    throw new Error(error);
  }
  return body as GuestSession;
}

/** The message of a failed hub call without SignalR's prefix, fit to show a person. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^.*HubException: /, "");
}

/**
 * A connection to the chat service: the contract's hub methods and events, typed. Events reach
 * handlers in each room's seq order, once: duplicates are dropped, events that arrive during
 * JoinRoom wait for its snapshot, a hole is filled with Resume. After a reconnect every joined room
 * resumes from its last seq; when the server no longer has what was missed (Resume answers reset,
 * is refused because a restarted server does not know the connection's rooms, or shows the room's
 * seq went backwards) the room is joined afresh and `onSnapshot` and `onRoomReset` handlers get the
 * new snapshot before the events that follow it.
 */
export class ChatClient {
  readonly connection: signalR.HubConnection;
  private readonly stateValue = new ObservableValue<ConnectionState>("offline");
  private readonly rooms = new Map<string, RoomTracker>();
  /** tokens=compact: the room each number names on this connection, as the server announced with `rn`. */
  private readonly roomNumbers = new Map<number, string>();
  private readonly replies = new Map<string, ReplyState>();
  private readonly generationRooms = new Map<string, string>();
  private readonly finishedReplies: string[] = [];
  private readonly handlers = new Map<RoomEventName, Set<(event: RoomEvent) => void>>();
  private readonly anyHandlers = new Set<(named: AnyRoomEvent) => void>();
  private readonly resetHandlers = new Set<(snapshot: RoomSnapshot) => void>();
  private readonly snapshotHandlers = new Set<(snapshot: RoomSnapshot) => void>();
  private readonly errorHandlers = new Set<(error: Error) => void>();
  private readonly userHandlers = new Map<UserEventName, Set<(event: UserEventMap[UserEventName]) => void>>();
  private readonly typingHandlers = new Set<(event: TypingEvent) => void>();

  constructor(options: ChatClientOptions) {
    const token = options.accessToken;
    const tokenFactory = typeof token === "string" ? () => token : token;
    const serverUrl = options.serverUrl ?? "";
    const delays = options.reconnectDelaysMs ?? defaultReconnectDelaysMs;
    const tickets = options.tickets ?? (inBrowser() && (options.transport === undefined || options.transport === signalR.HttpTransportType.WebSockets));
    // With tickets there is one request per connect (the WebSocket), so the factory runs once per connect and each
    // ticket is used once; negotiating would spend it before the socket opens.
    const httpOptions: signalR.IHttpConnectionOptions = tickets
      ? {
          accessTokenFactory: async () => (await getTicket(serverUrl, await tokenFactory())).ticket,
          transport: signalR.HttpTransportType.WebSockets,
          skipNegotiation: true,
        }
      : {
          accessTokenFactory: tokenFactory,
          ...(options.transport === undefined ? {} : { transport: options.transport }),
        };
    const query = [...(options.finalText === "omit" ? ["finalText=omit"] : []), ...(options.tokens === "compact" ? ["tokens=compact"] : [])];
    let builder = new signalR.HubConnectionBuilder()
      .withUrl(`${serverUrl}${hubPath}${query.length > 0 ? `?${query.join("&")}` : ""}`, httpOptions)
      .withAutomaticReconnect({ nextRetryDelayInMilliseconds: (context) => delays[Math.min(context.previousRetryCount, delays.length - 1)] ?? 5000 })
      .configureLogging(options.logLevel ?? signalR.LogLevel.Warning);
    if (options.protocol === "messagepack") {
      builder = builder.withHubProtocol(new MessagePackHubProtocol());
    }
    this.connection = builder.build();

    for (const name of roomEventNames) {
      this.connection.on(name, (event: RoomEvent) => this.receive({ name, event }));
    }
    // Compact deltas: an empty generation id, which the room's tracker fills with the running reply's.
    this.connection.on("rn", (roomId: unknown, roomNumber: unknown) => {
      if (typeof roomId === "string" && typeof roomNumber === "number") {
        this.roomNumbers.set(roomNumber, roomId);
      }
    });
    this.connection.on("t", (roomNumber: unknown, seq: unknown, text: unknown) => this.receiveCompact(roomNumber, seq, text, undefined));
    this.connection.on("tr", (roomNumber: unknown, seq: unknown, text: unknown, firstSeq: unknown) => this.receiveCompact(roomNumber, seq, text, firstSeq));
    for (const name of userEventNames) {
      this.connection.on(name, (event: UserEventMap[UserEventName]) => {
        for (const handler of this.userHandlers.get(name) ?? []) {
          handler(event);
        }
      });
    }
    // Ephemeral: no seq, so it bypasses the room's seq tracking and is never resumed.
    this.connection.on("typing", (event: TypingEvent) => {
      for (const handler of this.typingHandlers) {
        handler(event);
      }
    });
    this.connection.onreconnecting(() => this.stateValue.set("reconnecting"));
    this.connection.onreconnected(() => {
      this.stateValue.set("connected");
      void this.resumeAll();
    });
    this.connection.onclose(() => this.stateValue.set("offline"));
  }

  /** The connection state; subscribe to follow it. */
  get state(): Observable<ConnectionState> {
    return this.stateValue;
  }

  async start(): Promise<void> {
    this.stateValue.set("connecting");
    try {
      await this.connection.start();
    } catch (error) {
      this.stateValue.set("offline");
      throw error;
    }
    this.stateValue.set("connected");
  }

  /** Closes the connection (no reconnect); token iterators of unfinished replies end where they are. */
  async close(): Promise<void> {
    await this.connection.stop();
    this.stateValue.set("offline");
    for (const state of this.replies.values()) {
      state.abandon();
    }
  }

  /** The last seq seen in a room (0 if none). */
  lastSeq(roomId: string): number {
    return this.rooms.get(roomId)?.lastSeq ?? 0;
  }

  joinRoom(roomId: string): Promise<RoomSnapshot> {
    return this.enter(roomId, () => this.connection.invoke<RoomSnapshot>("JoinRoom", roomId));
  }

  createRoom(roomId: string, options: { visibility: "public" | "private" } = { visibility: "public" }): Promise<RoomSnapshot> {
    return this.enter(roomId, () => this.connection.invoke<RoomSnapshot>("CreateRoom", roomId, options));
  }

  leaveRoom(roomId: string): Promise<void> {
    return this.exit("LeaveRoom", roomId);
  }

  /** Stops receiving the room on this connection and stays a member (extension `CloseRoom`); `joinRoom` opens it again. */
  closeRoom(roomId: string): Promise<void> {
    return this.exit("CloseRoom", roomId);
  }

  private async exit(method: "LeaveRoom" | "CloseRoom", roomId: string): Promise<void> {
    await this.connection.invoke(method, roomId);
    for (const [roomNumber, numbered] of this.roomNumbers) {
      if (numbered === roomId) {
        this.roomNumbers.delete(roomNumber);
      }
    }
    this.rooms.get(roomId)?.leave();
    this.rooms.delete(roomId);
  }

  inviteToRoom(roomId: string, userId: string): Promise<void> {
    return this.connection.invoke("InviteToRoom", roomId, userId);
  }

  sendMessage(roomId: string, text: string): Promise<SendMessageResult> {
    return this.connection.invoke<SendMessageResult>("SendMessage", roomId, text);
  }

  /** True if this call stopped the generation; false if it had already ended. */
  cancelGeneration(generationId: string): Promise<boolean> {
    return this.connection.invoke<boolean>("CancelGeneration", generationId);
  }

  /** Changes the given settings of a room (a private room's by its creator, a public room's by any member); returns all of them. */
  updateRoomSettings(roomId: string, settings: RoomSettingsUpdate): Promise<RoomSettings> {
    return this.connection.invoke<RoomSettings>("UpdateRoomSettings", roomId, settings);
  }

  /** Tells the room's other members that this user is typing; call it at most every few seconds while they type. */
  typing(roomId: string): Promise<void> {
    return this.connection.invoke("Typing", roomId);
  }

  /** Approves or denies a tool call that waits; true when this call decided it, false when it was already decided or expired. */
  decideToolCall(approvalId: string, approve: boolean): Promise<boolean> {
    return this.connection.invoke<boolean>("DecideToolCall", approvalId, approve);
  }

  /** A new reply to the user message that `messageId` answered (or is); the old reply stays in history. */
  regenerate(roomId: string, messageId: string): Promise<SendMessageResult> {
    return this.connection.invoke<SendMessageResult>("Regenerate", roomId, messageId);
  }

  /** Handles `typing` events (another member types); returns the unsubscribe function. */
  onTyping(handler: (event: TypingEvent) => void): () => void {
    this.typingHandlers.add(handler);
    return () => this.typingHandlers.delete(handler);
  }

  /** Asks the server to re-send a room's events after `afterSeq`; the client calls it by itself after a reconnect or a hole. */
  resume(roomId: string, afterSeq: number): Promise<ResumeResult> {
    return this.connection.invoke<ResumeResult>("Resume", roomId, afterSeq);
  }

  /** A page of a room's history: messages with seq below `beforeSeq` (0: the newest), oldest first, at most `limit` (1 to 200). */
  getHistory(roomId: string, beforeSeq = 0, limit = 50): Promise<HistoryPage> {
    return this.connection.invoke<HistoryPage>("GetHistory", roomId, beforeSeq, limit);
  }

  /** The rooms the caller belongs to, most recent activity first, with a preview and the unread count. */
  listRooms(): Promise<RoomSummary[]> {
    return this.connection.invoke<RoomSummary[]>("ListRooms");
  }

  /** Records that the caller read `roomId` up to `seq` (never backwards); their other connections get `readMark`. */
  markRead(roomId: string, seq: number): Promise<void> {
    return this.connection.invoke("MarkRead", roomId, seq);
  }

  /** Subscribes to one of the caller's own events (`roomActivity`, `invited`, `readMark`); returns the unsubscribe. */
  onUserEvent<K extends UserEventName>(name: K, handler: (event: UserEventMap[K]) => void): () => void {
    let set = this.userHandlers.get(name);
    if (set === undefined) {
      set = new Set();
      this.userHandlers.set(name, set);
    }
    const wrapped = handler as (event: UserEventMap[UserEventName]) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  /** Sends a message and returns its reply as it streams. */
  async ask(roomId: string, text: string): Promise<ChatReply> {
    const sent = await this.sendMessage(roomId, text);
    if (sent.generationId === null) {
      throw new Error(`the message started no reply: room '${roomId}' answers only messages that mention @assistant`);
    }
    return this.reply(roomId, sent.generationId, sent.messageId);
  }

  /** A generation of a joined room (one of yours or one seen in an event or snapshot) as a reply. */
  reply(roomId: string, generationId: string, messageId = ""): ChatReply {
    const state = this.replyState(generationId, roomId);
    return {
      roomId,
      messageId,
      generationId,
      completion: state.completion,
      tokens: () => ({ [Symbol.asyncIterator]: () => state.iterate() }),
      [Symbol.asyncIterator]: () => state.iterate(),
      stop: () => this.cancelGeneration(generationId),
    };
  }

  /** Handles one kind of room event; returns the unsubscribe function. */
  on<K extends RoomEventName>(name: K, handler: (event: RoomEventMap[K]) => void): () => void {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
    }
    const wrapped = handler as (event: RoomEvent) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  /** Handles every room event, in order. */
  onEvent(handler: (named: AnyRoomEvent) => void): () => void {
    this.anyHandlers.add(handler);
    return () => this.anyHandlers.delete(handler);
  }

  /**
   * Called with every snapshot (JoinRoom, CreateRoom, a rejoin after a reset) before the events
   * that follow it are handed out: render the room here, so that no event lands before its snapshot.
   */
  onSnapshot(handler: (snapshot: RoomSnapshot) => void): () => void {
    this.snapshotHandlers.add(handler);
    return () => this.snapshotHandlers.delete(handler);
  }

  /** Called with a fresh snapshot when a room had to be joined again (what was missed is no longer kept): render it anew. */
  onRoomReset(handler: (snapshot: RoomSnapshot) => void): () => void {
    this.resetHandlers.add(handler);
    return () => this.resetHandlers.delete(handler);
  }

  /** Called when joining a room afresh failed; the client tries again on the next reconnect. */
  onError(handler: (error: Error) => void): () => void {
    this.errorHandlers.add(handler);
    return () => this.errorHandlers.delete(handler);
  }

  private async enter(roomId: string, call: () => Promise<RoomSnapshot>): Promise<RoomSnapshot> {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new RoomTracker();
      this.rooms.set(roomId, room);
    }
    room.beginJoin();
    let snapshot: RoomSnapshot;
    try {
      snapshot = await call();
    } catch (error) {
      room.abortJoin();
      if (!room.joined && this.rooms.get(roomId) === room) {
        this.rooms.delete(roomId);
      }
      void this.perform(roomId, room, room.nextAction());
      throw error;
    }
    void this.perform(roomId, room, this.applySnapshot(room, snapshot));
    return snapshot;
  }

  // The snapshot first (to onSnapshot, and to onRoomReset when the tracker asked for this join), then the held events after it.
  private applySnapshot(room: RoomTracker, snapshot: RoomSnapshot): TrackerAction {
    const reset = room.rejoining;
    this.catchUpReplies(snapshot, reset);
    for (const handler of this.snapshotHandlers) {
      handler(snapshot);
    }
    if (reset) {
      for (const handler of this.resetHandlers) {
        handler(snapshot);
      }
    }
    for (const named of room.completeJoin(snapshot.lastSeq, snapshot.activeGeneration?.generationId)) {
      this.dispatch(named);
    }
    return room.nextAction();
  }

  // Replies being read continue from the snapshot: missed deltas are added as one, ended ones end. After a
  // reset (or a restarted server) a reply neither running nor kept in the snapshot ends as failed, so no reader waits forever.
  private catchUpReplies(snapshot: RoomSnapshot, reset: boolean): void {
    for (const [generationId, state] of this.replies) {
      if (this.generationRooms.get(generationId) !== snapshot.roomId || state.final) {
        continue;
      }
      const active = snapshot.activeGeneration;
      if (active?.generationId === generationId) {
        const known = state.text;
        if (active.text.startsWith(known) && active.text.length > known.length) {
          state.pushToken(active.text.slice(known.length));
        }
        continue;
      }
      const messageId = this.replyMessageIds.get(generationId);
      const message = snapshot.messages.find((m) => m.messageId === messageId && m.state !== "generating");
      if (message) {
        const known = state.text;
        if (message.text.startsWith(known) && message.text.length > known.length) {
          state.pushToken(message.text.slice(known.length));
        }
        const final: StatusEvent["state"] = message.state === "generating" ? "completed" : message.state;
        state.end({ roomId: snapshot.roomId, generationId, seq: snapshot.lastSeq, state: final, text: message.text, messageId: message.messageId });
      } else if (reset) {
        state.end({
          roomId: snapshot.roomId,
          generationId,
          seq: snapshot.lastSeq,
          state: "failed",
          text: state.text,
          error: "the server no longer has this reply (it restarted); the room was joined afresh",
          ...(messageId === undefined ? {} : { messageId }),
        });
        this.forget(generationId);
      }
    }
    // A reply this client starts following mid-way: its text so far is the snapshot's, the deltas add to it.
    const active = snapshot.activeGeneration;
    if (active && !this.replies.has(active.generationId)) {
      this.replyState(active.generationId, snapshot.roomId).begin(active.text);
    }
  }

  private readonly replyMessageIds = new Map<string, string>();

  private receiveCompact(roomNumber: unknown, seq: unknown, text: unknown, firstSeq: unknown): void {
    // A frame this client cannot place (a room number never announced, a field of the wrong type) is dropped; the seq hole it leaves is resumed.
    const roomId = typeof roomNumber === "number" ? this.roomNumbers.get(roomNumber) : undefined;
    if (roomId === undefined || typeof seq !== "number" || typeof text !== "string" || (firstSeq !== undefined && typeof firstSeq !== "number")) {
      return;
    }
    const event: TokenEvent = { roomId, generationId: "", seq, text, ...(typeof firstSeq === "number" ? { firstSeq } : {}) };
    this.receive({ name: "token", event });
  }

  private receive(named: NamedEvent): void {
    // Only rooms this client follows: what still arrives for a room it left is dropped.
    const room = this.rooms.get(named.event.roomId);
    if (!room) {
      return;
    }
    for (const ready of room.receive(named)) {
      this.dispatch(ready);
    }
    void this.perform(named.event.roomId, room, room.nextAction());
  }

  private dispatch(named: NamedEvent): void {
    if (named.name === "status") {
      const status = named.event as StatusEvent;
      if (isFinal(status.state) && status.text === undefined) {
        // Sent without its text (finalText=omit): the text is the one the deltas built.
        named = { name: "status", event: { ...status, text: this.replies.get(status.generationId)?.text ?? "" } };
      }
    }
    const event = named.event;
    if (named.name === "token" || named.name === "status" || named.name === "toolProgress") {
      const generationEvent = event as TokenEvent | StatusEvent | ToolProgressEvent;
      const state = this.replyState(generationEvent.generationId, event.roomId);
      if (named.name === "token") {
        state.pushToken((event as TokenEvent).text);
      } else if (named.name === "toolProgress") {
        const progress = event as ToolProgressEvent;
        state.tools.set(progress.callId, progress);
      } else {
        const status = event as StatusEvent;
        if (status.messageId) {
          this.replyMessageIds.set(status.generationId, status.messageId);
        }
        if (isFinal(status.state)) {
          state.end(status);
          this.forget(status.generationId);
        }
      }
    }
    for (const handler of this.handlers.get(named.name) ?? []) {
      handler(event);
    }
    for (const handler of this.anyHandlers) {
      handler(named as AnyRoomEvent);
    }
  }

  private replyState(generationId: string, roomId: string): ReplyState {
    let state = this.replies.get(generationId);
    if (!state) {
      state = new ReplyState();
      this.replies.set(generationId, state);
      this.generationRooms.set(generationId, roomId);
    }
    return state;
  }

  // Ended replies stay a while, so that a reader who asks after the end still gets the whole reply.
  private forget(generationId: string): void {
    this.finishedReplies.push(generationId);
    while (this.finishedReplies.length > rememberedReplies) {
      const old = this.finishedReplies.shift();
      if (old !== undefined) {
        this.replies.delete(old);
        this.generationRooms.delete(old);
        this.replyMessageIds.delete(old);
      }
    }
  }

  private async resumeAll(): Promise<void> {
    await Promise.all(
      [...this.rooms].map(([roomId, room]) => {
        room.reconnected();
        return this.perform(roomId, room, room.nextAction());
      }),
    );
  }

  // Does what a room's tracker asked for, and then what it asks for next, until it asks for nothing.
  private async perform(roomId: string, room: RoomTracker, action: TrackerAction): Promise<void> {
    while (action.kind !== "none") {
      action = action.kind === "resume" ? await this.catchUp(roomId, room, action.afterSeq) : await this.rejoin(roomId, room);
    }
  }

  private async catchUp(roomId: string, room: RoomTracker, afterSeq: number): Promise<TrackerAction> {
    try {
      room.resumed(await this.resume(roomId, afterSeq));
    } catch {
      // Refused ("join room … before you resume it" from a restarted server), or the connection went:
      // the tracker joins afresh, or resumes again on the new connection.
      room.resumeFailed();
    }
    return room.nextAction();
  }

  private async rejoin(roomId: string, room: RoomTracker): Promise<TrackerAction> {
    let snapshot: RoomSnapshot;
    try {
      snapshot = await this.connection.invoke<RoomSnapshot>("JoinRoom", roomId);
    } catch (error) {
      // Not joined again: the position stays, and the next reconnect tries again.
      room.abortJoin();
      for (const handler of this.errorHandlers) {
        handler(error instanceof Error ? error : new Error(String(error)));
      }
      return room.nextAction();
    }
    if (this.rooms.get(roomId) !== room) {
      return { kind: "none" };
    }
    return this.applySnapshot(room, snapshot);
  }
}
