// The chat page: guest sign-in, a room with its members, replies streaming in place, Stop for everyone.
import { ChatClient, errorText, signInAsGuest, type ConnectionState, type HubProtocolName } from "../src/client";
import type { AssistantMode, BusyMode, GenerationState, RoomMember, RoomSettings, RoomSnapshot, StatusEvent, TypingEvent } from "../src/contract";
import { defaultRoomSettings, isFinal, stoppedText } from "../src/contract";
import { RoomListView } from "./rooms";
import { ConversationView } from "./view";

const roomIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`the page has no #${id}`);
  }
  return element as T;
}

const ui = {
  connection: byId("connection"),
  signin: byId<HTMLFormElement>("signin"),
  name: byId<HTMLInputElement>("name"),
  room: byId<HTMLInputElement>("room"),
  chat: byId("chat"),
  roomPicker: byId<HTMLFormElement>("room-picker"),
  roomSwitch: byId<HTMLInputElement>("room-switch"),
  shareLink: byId<HTMLAnchorElement>("share-link"),
  copyLink: byId<HTMLButtonElement>("copy-link"),
  messages: byId("messages"),
  status: byId("status"),
  statusText: byId("status-text"),
  composer: byId<HTMLFormElement>("composer"),
  message: byId<HTMLTextAreaElement>("message"),
  send: byId<HTMLButtonElement>("send"),
  stop: byId<HTMLButtonElement>("stop"),
  members: byId<HTMLUListElement>("member-list"),
  roomList: byId<HTMLUListElement>("room-list"),
  older: byId<HTMLButtonElement>("older"),
  settings: byId<HTMLFormElement>("settings"),
  settingAssistant: byId<HTMLSelectElement>("setting-assistant"),
  settingOnBusy: byId<HTMLSelectElement>("setting-onbusy"),
  settingTopic: byId<HTMLInputElement>("setting-topic"),
  topic: byId("topic"),
  typing: byId("typing"),
  mentions: byId<HTMLUListElement>("mention-list"),
  error: byId("error"),
  announcer: byId("announcer"),
};

const conversation = new ConversationView(ui.messages, {
  regenerate: (messageId) => void act(() => client?.regenerate(roomId, messageId)),
  decide: (approvalId, approve) => void act(() => client?.decideToolCall(approvalId, approve)),
});
const roomList = new RoomListView(ui.roomList, (room) => void switchRoom(room));
// Paging back: the seq of the oldest message shown, and whether the room has older ones.
let oldestSeq = 0;
let hasMore = false;
let loadingOlder = false;
let client: ChatClient | undefined;
let userName = "";
let userId = "";
let roomId = "";
const members = new Map<string, RoomMember>();
// Generation id -> assistant message id, and the generations not yet ended (in start order).
const generationMessages = new Map<string, string>();
const running = new Map<string, GenerationState>();

// Who is typing now: user id -> name and the timer that forgets them.
const typists = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();
const typingShownMs = 4000;
const typingEveryMs = 2500;
let lastTypingSent = 0;

async function act(action: () => Promise<unknown> | undefined): Promise<void> {
  try {
    await action();
    showError("");
  } catch (error) {
    showError(errorText(error));
  }
}

function showSettings(settings: RoomSettings): void {
  ui.settingAssistant.value = settings.assistant;
  ui.settingOnBusy.value = settings.onBusy;
  if (document.activeElement !== ui.settingTopic) {
    ui.settingTopic.value = settings.topic ?? "";
  }
  ui.topic.hidden = !settings.topic;
  ui.topic.textContent = settings.topic ? `Topic: ${settings.topic}` : "";
}

function renderTyping(): void {
  const names = [...typists.values()].map((t) => t.name);
  ui.typing.textContent =
    names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]} are typing…`;
}

function forgetTypist(userId: string): void {
  const typist = typists.get(userId);
  if (typist) {
    clearTimeout(typist.timer);
    typists.delete(userId);
    renderTyping();
  }
}

function onTyping(e: TypingEvent): void {
  if (e.roomId !== roomId || e.userId === userId) {
    return;
  }
  const previous = typists.get(e.userId);
  if (previous) {
    clearTimeout(previous.timer);
  }
  typists.set(e.userId, { name: e.name, timer: setTimeout(() => forgetTypist(e.userId), typingShownMs) });
  renderTyping();
}

/** While the person types: tell the room, at most once every few seconds (the server allows one per 2 s). */
function typed(): void {
  const now = Date.now();
  if (client && ui.message.value.trim() !== "" && now - lastTypingSent >= typingEveryMs) {
    lastTypingSent = now;
    client.typing(roomId).catch(() => undefined);
  }
  refreshMentions();
}

/** The word being typed, when it starts a mention of the assistant. */
function mentionAtCursor(): { start: number; end: number } | undefined {
  const box = ui.message;
  const end = box.selectionStart ?? box.value.length;
  const match = /(^|\s)(@[A-Za-z]*)$/.exec(box.value.slice(0, end));
  if (!match || match[2] === undefined) {
    return undefined;
  }
  const word = match[2].toLowerCase();
  return "@assistant".startsWith(word) && word !== "@assistant" ? { start: end - word.length, end } : undefined;
}

function refreshMentions(): void {
  ui.mentions.hidden = mentionAtCursor() === undefined;
}

function completeMention(): boolean {
  const at = mentionAtCursor();
  if (!at) {
    return false;
  }
  const box = ui.message;
  box.value = `${box.value.slice(0, at.start)}@assistant ${box.value.slice(at.end)}`;
  const cursor = at.start + "@assistant ".length;
  box.setSelectionRange(cursor, cursor);
  ui.mentions.hidden = true;
  return true;
}

function showError(text: string): void {
  ui.error.textContent = text;
}

function announce(text: string): void {
  ui.announcer.textContent = text;
}

function showConnection(state: ConnectionState): void {
  ui.connection.textContent = state;
  ui.connection.dataset["state"] = state;
}

function showStatus(state: GenerationState | "idle", detail = ""): void {
  ui.status.dataset["state"] = state;
  ui.statusText.textContent = detail ? `${state}: ${detail}` : state;
}

/** The generation Stop acts on: the one that runs (a queued one has not started). */
function stoppable(): string | undefined {
  for (const [generationId, state] of running) {
    if (state !== "queued") {
      return generationId;
    }
  }
  return undefined;
}

function refreshStop(): void {
  ui.stop.disabled = stoppable() === undefined;
}

function renderMembers(): void {
  const items = [...members.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((member) => {
      const li = document.createElement("li");
      li.textContent = member.userId === userId ? `${member.name} (you)` : member.name;
      li.dataset["userId"] = member.userId;
      return li;
    });
  ui.members.replaceChildren(...items);
}

function showOlder(more: boolean, oldest: number | undefined): void {
  hasMore = more;
  if (oldest !== undefined) {
    oldestSeq = oldest;
  }
  ui.older.hidden = !hasMore;
}

/** Loads the page of messages before the oldest shown (the button, or scrolling to the top). */
async function loadOlder(): Promise<void> {
  if (!client || !hasMore || loadingOlder) {
    return;
  }
  loadingOlder = true;
  const room = roomId;
  try {
    const page = await client.getHistory(room, oldestSeq, 50);
    if (room === roomId) {
      conversation.prepend(page.messages);
      showOlder(page.hasMore, page.messages[0]?.seq);
    }
  } catch (error) {
    showError(errorText(error));
  } finally {
    loadingOlder = false;
  }
}

/** Tells the server (and so the person's other devices) that this room is read up to `seq`. */
function markRead(seq: number): void {
  if (client && seq > 0) {
    client.markRead(roomId, seq).catch(() => undefined);
  }
}

async function refreshRooms(): Promise<void> {
  if (client) {
    roomList.set(await client.listRooms());
    roomList.select(roomId);
  }
}

function render(snapshot: RoomSnapshot): void {
  conversation.clear();
  for (const typist of [...typists.keys()]) {
    forgetTypist(typist);
  }
  generationMessages.clear();
  running.clear();
  members.clear();
  for (const member of snapshot.members) {
    members.set(member.userId, member);
  }
  for (const message of snapshot.messages) {
    conversation.upsert(message);
  }
  const active = snapshot.activeGeneration;
  if (active) {
    generationMessages.set(active.generationId, active.messageId);
    running.set(active.generationId, active.state);
    if (conversation.has(active.messageId)) {
      conversation.setState(active.messageId, "generating");
      conversation.setText(active.messageId, active.text);
      // A tool call that waits for a decision is shown with its buttons to whoever opens the room meanwhile.
      for (const approval of snapshot.pendingApprovals ?? []) {
        conversation.showApproval(active.messageId, approval);
      }
    }
    showStatus(active.state);
  } else {
    showStatus("idle");
  }
  showSettings(snapshot.settings ?? defaultRoomSettings);
  renderMembers();
  refreshStop();
  showOlder(snapshot.hasMore ?? false, snapshot.messages[0]?.seq);
  markRead(snapshot.lastSeq);
}

function onStatus(status: StatusEvent): void {
  if (status.messageId) {
    generationMessages.set(status.generationId, status.messageId);
  }
  const messageId = generationMessages.get(status.generationId);
  if (isFinal(status.state)) {
    running.delete(status.generationId);
    if (messageId) {
      const state = status.state === "completed" ? "completed" : status.state === "cancelled" ? "cancelled" : "failed";
      conversation.setState(messageId, state, status.error ?? "");
      if (status.text !== undefined) {
        conversation.setText(messageId, status.text);
      }
      if (status.state === "cancelled") {
        conversation.setNote(messageId, stoppedText(status));
      }
    }
    announce(
      status.state === "completed" ? `Reply: ${status.text ?? ""}` : status.state === "cancelled" ? `The reply was ${stoppedText(status)}.` : `The reply failed: ${status.error ?? ""}`,
    );
  } else {
    running.set(status.generationId, status.state);
  }
  showStatus(status.state, status.error ?? "");
  refreshStop();
}

function wire(chat: ChatClient): void {
  chat.state.subscribe(showConnection);
  chat.on("message", (e) => {
    if (e.roomId === roomId) {
      conversation.upsert(e.message);
      markRead(e.seq);
      forgetTypist(e.message.authorId);
    }
  });
  chat.onUserEvent("roomActivity", (e) => roomList.activity(e.roomId, e.lastActivity, e.lastMessage, e.unread));
  chat.onUserEvent("invited", (e) => {
    announce(`${e.invitedBy.name} invited you to ${e.roomId}.`);
    void refreshRooms().catch(() => undefined);
  });
  chat.onUserEvent("readMark", (e) => roomList.read(e.roomId));
  chat.on("roomSettings", (e) => {
    if (e.roomId === roomId) {
      showSettings(e.settings);
      announce(`${e.changedBy.name} changed the room's settings.`);
    }
  });
  chat.on("toolApproval", (e) => {
    const messageId = generationMessages.get(e.generationId);
    if (e.roomId === roomId && messageId) {
      conversation.showApproval(messageId, e);
      if (e.state === "pending") {
        announce(`The assistant asks to run ${e.tool}: approve or deny it.`);
      }
    }
  });
  chat.onTyping(onTyping);
  chat.on("token", (e) => {
    const messageId = generationMessages.get(e.generationId);
    if (e.roomId === roomId && messageId) {
      conversation.appendText(messageId, e.text);
    }
  });
  chat.on("toolProgress", (e) => {
    const messageId = generationMessages.get(e.generationId);
    if (e.roomId !== roomId) {
      return;
    }
    if (messageId) {
      conversation.showTool(messageId, e);
    }
    const percent = e.progress === undefined ? "" : ` ${Math.round(e.progress * 100)}%`;
    showStatus("tool", `${e.tool} ${e.phase}${percent}`);
  });
  chat.on("status", (e) => {
    if (e.roomId === roomId) {
      onStatus(e);
    }
  });
  chat.on("presence", (e) => {
    if (e.roomId !== roomId) {
      return;
    }
    if (e.state === "joined") {
      members.set(e.userId, { userId: e.userId, name: e.name });
    } else {
      members.delete(e.userId);
    }
    renderMembers();
  });
  // Every snapshot comes here before the events that follow it, on the first join and after a reset alike.
  chat.onSnapshot((snapshot) => {
    if (snapshot.roomId === roomId) {
      render(snapshot);
    }
  });
  // A room joined afresh (a reset, or a restarted server) is caught up again: the snapshot above rendered it.
  chat.onRoomReset((snapshot) => {
    if (snapshot.roomId === roomId) {
      showError("");
    }
  });
  chat.onError((error) => showError(`Could not catch up: ${errorText(error)}`));
}

function showRoom(room: string): void {
  roomId = room;
  ui.roomSwitch.value = room;
  const link = new URL(location.href);
  link.search = new URLSearchParams({ room }).toString();
  ui.shareLink.href = link.toString();
  ui.shareLink.textContent = link.toString();
  document.title = `${room} · SignalRChat`;
  roomList.select(room);
  const address = new URLSearchParams({ room, name: userName });
  if (protocol !== "json") {
    address.set("protocol", protocol);
  }
  history.replaceState(null, "", `?${address.toString()}`);
}

async function start(name: string, room: string, protocol: HubProtocolName): Promise<void> {
  showError("");
  if (!roomIdPattern.test(room)) {
    throw new Error("A room name has 1 to 64 letters, digits, '-' or '_'.");
  }
  const session = await signInAsGuest("", name);
  userName = session.name;
  userId = session.userId;
  // The page builds each reply from its deltas, so the final status need not repeat the text.
  const chat = new ChatClient({ accessToken: session.token, protocol, finalText: "omit", tokens: "compact" });
  wire(chat);
  await chat.start();
  client = chat;
  roomId = room;
  await chat.joinRoom(room);
  showRoom(room);
  ui.signin.hidden = true;
  ui.chat.hidden = false;
  ui.message.focus();
  await refreshRooms().catch(() => undefined);
}

async function switchRoom(room: string): Promise<void> {
  if (!client || room === roomId) {
    return;
  }
  if (!roomIdPattern.test(room)) {
    showError("A room name has 1 to 64 letters, digits, '-' or '_'.");
    return;
  }
  showError("");
  const previous = roomId;
  roomId = room;
  try {
    await client.joinRoom(room);
    // The previous room is closed, not left: the person stays a member, so it stays in their list and its unread
    // count goes on in roomActivity; the connection only carries the room on screen (however many rooms one visits).
    if (previous) {
      await client.closeRoom(previous).catch(() => undefined);
    }
    showRoom(room);
    await refreshRooms().catch(() => undefined);
  } catch (error) {
    roomId = previous;
    showError(errorText(error));
  }
}

async function send(): Promise<void> {
  const text = ui.message.value;
  if (!client || text.trim() === "") {
    return;
  }
  ui.send.disabled = true;
  // Cleared at once, so what is typed while the message is on its way is kept; a refused message comes back.
  ui.message.value = "";
  ui.mentions.hidden = true;
  try {
    await client.sendMessage(roomId, text);
    showError("");
  } catch (error) {
    if (ui.message.value === "") {
      ui.message.value = text;
    }
    showError(errorText(error));
  } finally {
    ui.send.disabled = false;
    ui.message.focus();
  }
}

async function stop(): Promise<void> {
  const generationId = stoppable();
  if (!client || !generationId) {
    return;
  }
  try {
    await client.cancelGeneration(generationId);
  } catch (error) {
    showError(errorText(error));
  }
}

const params = new URLSearchParams(location.search);
const protocol: HubProtocolName = params.get("protocol") === "messagepack" ? "messagepack" : "json";

ui.signin.addEventListener("submit", (e) => {
  e.preventDefault();
  start(ui.name.value.trim(), ui.room.value.trim(), protocol).catch((error: unknown) => showError(errorText(error)));
});
ui.roomPicker.addEventListener("submit", (e) => {
  e.preventDefault();
  void switchRoom(ui.roomSwitch.value.trim());
});
ui.copyLink.addEventListener("click", () => {
  navigator.clipboard?.writeText(ui.shareLink.href).then(
    () => announce("Link copied."),
    () => showError("Copying is not allowed here; select the link instead."),
  );
});
ui.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  void send();
});
ui.stop.addEventListener("click", () => void stop());
ui.older.addEventListener("click", () => void loadOlder());
ui.messages.addEventListener("scroll", () => {
  if (ui.messages.scrollTop < 40) {
    void loadOlder();
  }
});
ui.settings.addEventListener("submit", (e) => {
  e.preventDefault();
  const settings = {
    assistant: ui.settingAssistant.value as AssistantMode,
    onBusy: ui.settingOnBusy.value as BusyMode,
    topic: ui.settingTopic.value.trim(),
  };
  void act(async () => showSettings((await client?.updateRoomSettings(roomId, settings)) ?? defaultRoomSettings));
});
ui.message.addEventListener("input", typed);
ui.mentions.addEventListener("mousedown", (e) => {
  e.preventDefault();
  completeMention();
  ui.message.focus();
});
ui.message.addEventListener("keydown", (e) => {
  if ((e.key === "Tab" || e.key === "Enter") && !e.shiftKey && !ui.mentions.hidden && completeMention()) {
    e.preventDefault();
    return;
  }
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    void send();
  }
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !ui.chat.hidden) {
    void stop();
  }
});

const presetName = params.get("name");
const presetRoom = params.get("room");
if (presetRoom) {
  ui.room.value = presetRoom;
}
if (presetName) {
  ui.name.value = presetName;
}
if (presetName && presetRoom) {
  start(presetName, presetRoom, protocol).catch((error: unknown) => showError(errorText(error)));
} else {
  ui.name.focus();
}
