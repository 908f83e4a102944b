// The person's rooms: newest activity first, each with a preview of its last message and an unread badge.
import type { MessagePreview, RoomSummary } from "../src/contract";

export class RoomListView {
  private rooms: RoomSummary[] = [];
  private current = "";

  constructor(private readonly list: HTMLUListElement, private readonly open: (roomId: string) => void) {}

  /** Replaces the list with what the server says (`listRooms`). */
  set(rooms: readonly RoomSummary[]): void {
    this.rooms = [...rooms];
    this.render();
  }

  /** The room being looked at: shown as current, its badge cleared. */
  select(roomId: string): void {
    this.current = roomId;
    this.update(roomId, (room) => ({ ...room, unread: 0 }));
  }

  /** A room got a new message: it moves to the top with the new preview and count. */
  activity(roomId: string, lastActivity: string, lastMessage: MessagePreview, unread: number): void {
    const known = this.rooms.find((r) => r.roomId === roomId);
    const room: RoomSummary = {
      ...(known ?? { roomId, visibility: "public", memberCount: 1, lastSeq: 0 }),
      lastActivity,
      lastMessage,
      unread: roomId === this.current ? 0 : unread,
    };
    this.rooms = [room, ...this.rooms.filter((r) => r.roomId !== roomId)];
    this.render();
  }

  /** Read up to the end on some device: the badge goes. */
  read(roomId: string): void {
    this.update(roomId, (room) => ({ ...room, unread: 0 }));
  }

  private update(roomId: string, change: (room: RoomSummary) => RoomSummary): void {
    this.rooms = this.rooms.map((r) => (r.roomId === roomId ? change(r) : r));
    this.render();
  }

  private render(): void {
    const items = this.rooms.map((room) => {
      const li = document.createElement("li");
      li.dataset["roomId"] = room.roomId;
      // A link, not a button: a room is a place to go (and a room named "stop" is no Stop button).
      const link = document.createElement("a");
      link.href = `?${new URLSearchParams({ room: room.roomId }).toString()}`;
      link.setAttribute("aria-current", room.roomId === this.current ? "true" : "false");
      const name = document.createElement("span");
      name.className = "room-name";
      name.textContent = room.visibility === "private" ? `🔒 ${room.roomId}` : room.roomId;
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = String(room.unread);
      badge.hidden = room.unread === 0;
      badge.setAttribute("aria-label", `${room.unread} unread`);
      const preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = room.lastMessage ? `${room.lastMessage.authorName}: ${room.lastMessage.text}` : "no messages yet";
      link.append(name, badge, preview);
      link.addEventListener("click", (e) => {
        e.preventDefault();
        this.open(room.roomId);
      });
      li.append(link);
      return li;
    });
    this.list.replaceChildren(...items);
  }
}
