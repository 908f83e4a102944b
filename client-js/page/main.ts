// The chat page: guest sign-in, one room, replies streaming in place, Stop for everyone.
import * as signalR from "@microsoft/signalr";
import type { ChatMessage, GuestSession, MessageEvent, PresenceEvent, RoomEvent, RoomSnapshot, SendMessageResult, StatusEvent, TokenEvent, ToolProgressEvent } from "../src/contract";
import { isFinal } from "../src/contract";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let connection: signalR.HubConnection | undefined;
let roomId = "";
let lastSeq = 0;
let activeGeneration: string | null = null;
const generationMessages = new Map<string, string>();

function setConnection(state: "connected" | "reconnecting" | "offline"): void {
  const el = $("connection");
  el.textContent = state;
  el.dataset["state"] = state;
}

function showError(text: string): void {
  $("error").textContent = text;
}

function messageElement(message: ChatMessage): HTMLElement {
  let el = document.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(message.messageId)}"]`);
  if (!el) {
    el = document.createElement("div");
    el.className = "message";
    el.dataset["messageId"] = message.messageId;
    const author = document.createElement("span");
    author.className = "author";
    const text = document.createElement("span");
    text.className = "text";
    el.append(author, text);
    $("messages").append(el);
  }
  el.dataset["role"] = message.role;
  el.dataset["state"] = message.state;
  (el.querySelector(".author") as HTMLElement).textContent = message.authorName;
  (el.querySelector(".text") as HTMLElement).textContent = message.text;
  return el;
}

function textOf(messageId: string): HTMLElement | null {
  return document.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(messageId)}"] .text`);
}

function setActive(generationId: string | null): void {
  activeGeneration = generationId;
  ($("stop") as HTMLButtonElement).disabled = generationId === null;
}

function apply(name: string, event: RoomEvent): void {
  if (event.roomId !== roomId || event.seq <= lastSeq) {
    return;
  }
  lastSeq = event.seq;
  switch (name) {
    case "message": {
      const m = (event as MessageEvent).message;
      messageElement(m);
      break;
    }
    case "token": {
      const t = event as TokenEvent;
      const id = generationMessages.get(t.generationId);
      const el = id ? textOf(id) : null;
      if (el) {
        el.textContent += t.text;
      }
      break;
    }
    case "toolProgress": {
      const p = event as ToolProgressEvent;
      const pct = p.progress === undefined ? "" : ` ${Math.round(p.progress * 100)}%`;
      $("status").textContent = `${p.tool}: ${p.phase}${pct}${p.detail ? ` (${p.detail})` : ""}`;
      break;
    }
    case "status": {
      const s = event as StatusEvent;
      if (s.messageId) {
        generationMessages.set(s.generationId, s.messageId);
      }
      $("status").textContent = s.error ? `${s.state}: ${s.error}` : s.state;
      if (isFinal(s.state)) {
        const id = s.messageId ?? generationMessages.get(s.generationId);
        const el = id ? document.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(id)}"]`) : null;
        if (el) {
          el.dataset["state"] = s.state === "completed" ? "completed" : s.state === "cancelled" ? "cancelled" : "failed";
          if (s.text !== undefined) {
            (el.querySelector(".text") as HTMLElement).textContent = s.text;
          }
        }
        if (activeGeneration === s.generationId) {
          setActive(null);
        }
      } else if (s.state !== "queued") {
        setActive(s.generationId);
      }
      break;
    }
    case "presence": {
      const p = event as PresenceEvent;
      $("status").textContent = `${p.name} ${p.state}`;
      break;
    }
  }
}

function render(snapshot: RoomSnapshot): void {
  $("messages").replaceChildren();
  generationMessages.clear();
  lastSeq = snapshot.lastSeq;
  for (const m of snapshot.messages) {
    messageElement(m);
  }
  if (snapshot.activeGeneration) {
    generationMessages.set(snapshot.activeGeneration.generationId, snapshot.activeGeneration.messageId);
    setActive(snapshot.activeGeneration.generationId);
  } else {
    setActive(null);
  }
  $("room-title").textContent = `Room ${snapshot.roomId} · ${snapshot.members.map((m) => m.name).join(", ")}`;
}

async function signIn(name: string): Promise<GuestSession> {
  const response = await fetch("/api/auth/guest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
  const body = (await response.json()) as GuestSession & { error?: string };
  if (!response.ok) {
    throw new Error(body.error ?? `sign-in failed (${response.status})`);
  }
  return body;
}

async function join(name: string, room: string): Promise<void> {
  showError("");
  const session = await signIn(name);
  roomId = room;
  connection = new signalR.HubConnectionBuilder()
    .withUrl("/hubs/chat", { accessTokenFactory: () => session.token })
    .withAutomaticReconnect()
    .build();
  for (const name of ["message", "token", "toolProgress", "status", "presence"]) {
    connection.on(name, (event: RoomEvent) => apply(name, event));
  }
  connection.onreconnecting(() => setConnection("reconnecting"));
  connection.onreconnected(async () => {
    setConnection("connected");
    render(await connection!.invoke<RoomSnapshot>("JoinRoom", roomId));
  });
  connection.onclose(() => setConnection("offline"));
  await connection.start();
  setConnection("connected");
  render(await connection.invoke<RoomSnapshot>("JoinRoom", room));
  $("signin").hidden = true;
  $("chat").hidden = false;
  history.replaceState(null, "", `?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`);
  $("message").focus();
}

async function send(): Promise<void> {
  const box = $("message") as HTMLTextAreaElement;
  const text = box.value;
  if (!connection || text.trim() === "") {
    return;
  }
  try {
    await connection.invoke<SendMessageResult>("SendMessage", roomId, text);
    box.value = "";
    showError("");
  } catch (error) {
    showError(error instanceof Error ? error.message.replace(/^.*HubException: /, "") : String(error));
  }
}

async function stop(): Promise<void> {
  if (connection && activeGeneration) {
    await connection.invoke<boolean>("CancelGeneration", activeGeneration);
  }
}

$("signin").addEventListener("submit", (e) => {
  e.preventDefault();
  join(($("name") as HTMLInputElement).value, ($("room") as HTMLInputElement).value).catch((error: unknown) => showError(String(error)));
});
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  void send();
});
$("stop").addEventListener("click", () => void stop());
$("message").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    void send();
  } else if (e.key === "Escape") {
    void stop();
  }
});

const params = new URLSearchParams(location.search);
const presetName = params.get("name");
const presetRoom = params.get("room");
if (presetRoom) {
  ($("room") as HTMLInputElement).value = presetRoom;
}
if (presetName && presetRoom) {
  join(presetName, presetRoom).catch((error: unknown) => showError(String(error)));
}
