// The public contract's shapes (see docs/protocol.md). JSON is camelCase; times are ISO-8601 UTC.

export type MessageRole = "user" | "assistant";
export type MessageState = "completed" | "cancelled" | "failed" | "generating";
export type GenerationState = "queued" | "thinking" | "generating" | "tool" | "completed" | "cancelled" | "failed";
export type ToolPhase = "started" | "progress" | "completed" | "failed";

export interface ChatMessage {
  messageId: string;
  seq: number;
  authorId: string;
  authorName: string;
  role: MessageRole;
  text: string;
  state: MessageState;
  createdAt: string;
  /** For a regenerated reply: the id of the reply it replaces. */
  regenerates?: string;
  /** For a cancelled reply: who stopped it (absent or null when the server did). */
  cancelledBy?: RoomMember | null;
}

export interface RoomMember {
  userId: string;
  name: string;
}

export interface ActiveGeneration {
  generationId: string;
  messageId: string;
  text: string;
  state: GenerationState;
}

export interface RoomSnapshot {
  roomId: string;
  lastSeq: number;
  members: RoomMember[];
  messages: ChatMessage[];
  activeGeneration: ActiveGeneration | null;
  settings?: RoomSettings;
  /** True when older messages exist (page back with `getHistory`). */
  hasMore?: boolean;
  /** Extension: the running reply's tool calls that wait for a decision as of `lastSeq` (state `pending`). */
  pendingApprovals?: ToolApprovalEvent[];
}

/** What `GetHistory` and `GET /api/rooms/{roomId}/messages` return: messages oldest first, and whether older ones exist. */
export interface HistoryPage {
  roomId: string;
  messages: ChatMessage[];
  hasMore: boolean;
}

/** A room's newest message, its text cut to 200 characters. */
export interface MessagePreview {
  authorName: string;
  text: string;
  createdAt: string;
}

/** One of the caller's rooms, as `ListRooms` and `GET /api/rooms` list them. */
export interface RoomSummary {
  roomId: string;
  visibility: "public" | "private";
  lastActivity: string;
  lastMessage: MessagePreview | null;
  memberCount: number;
  unread: number;
  lastSeq: number;
}

/** User event `roomActivity`: a room the user belongs to has a new message. */
export interface RoomActivityEvent {
  roomId: string;
  lastActivity: string;
  lastMessage: MessagePreview;
  unread: number;
}

/** User event `invited`. */
export interface InvitedEvent {
  roomId: string;
  visibility: "public" | "private";
  invitedBy: RoomMember;
}

/** User event `readMark`: the user read `roomId` up to `seq` (on any of their connections). */
export interface ReadMarkEvent {
  roomId: string;
  seq: number;
}

/** A person's own events, sent to every connection of theirs on any node; not tied to a room's seq. */
export interface UserEventMap {
  roomActivity: RoomActivityEvent;
  invited: InvitedEvent;
  readMark: ReadMarkEvent;
}

export type UserEventName = keyof UserEventMap;

export const userEventNames: readonly UserEventName[] = ["roomActivity", "invited", "readMark"];

export type AssistantMode = "always" | "mentioned";
export type BusyMode = "queue" | "interrupt" | "reject";

export interface RoomSettings {
  assistant: AssistantMode;
  onBusy: BusyMode;
  topic: string | null;
}

export type RoomSettingsUpdate = Partial<RoomSettings>;

export interface SendMessageResult {
  messageId: string;
  /** null when the message starts no reply (a room that answers only `@assistant` mentions). */
  generationId: string | null;
}

export interface ResumeResult {
  roomId: string;
  fromSeq: number;
  toSeq: number;
  reset: boolean;
}

export interface GuestSession {
  token: string;
  userId: string;
  name: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface MessageEvent {
  roomId: string;
  seq: number;
  message: ChatMessage;
}

export interface TokenEvent {
  roomId: string;
  generationId: string;
  seq: number;
  text: string;
  /** Set when several deltas were joined into one event: the seq of the first. */
  firstSeq?: number;
}

export interface ToolProgressEvent {
  roomId: string;
  generationId: string;
  seq: number;
  callId: string;
  tool: string;
  phase: ToolPhase;
  progress?: number;
  detail?: string;
  /** On phase "started": the call's whole arguments (absent when the model's were not valid JSON). */
  arguments?: Record<string, unknown>;
}

export interface StatusEvent {
  roomId: string;
  generationId: string;
  seq: number;
  state: GenerationState;
  text?: string;
  error?: string;
  usage?: Usage;
  messageId?: string;
  /** On a final status: how the reply was made, when the room should know (e.g. written without the room's history). */
  note?: string;
  /** On a cancelled status: who stopped it; null when the server did. */
  cancelledBy?: RoomMember | null;
  /** On a cancelled status: why. */
  reason?: CancelReason;
}

export type CancelReason = "stopped" | "interrupted" | "shutdown" | "limit";
export type ApprovalState = "pending" | "approved" | "denied" | "expired";

export interface RoomSettingsEvent {
  roomId: string;
  seq: number;
  settings: RoomSettings;
  changedBy: RoomMember;
}

export interface ToolApprovalEvent {
  roomId: string;
  generationId: string;
  seq: number;
  approvalId: string;
  callId: string;
  tool: string;
  arguments: unknown;
  state: ApprovalState;
  decidedBy?: RoomMember;
}

/** Ephemeral: no seq, never replayed. */
export interface TypingEvent {
  roomId: string;
  userId: string;
  name: string;
}

export interface PresenceEvent {
  roomId: string;
  seq: number;
  userId: string;
  name: string;
  state: "joined" | "left";
}

export interface RoomEventMap {
  message: MessageEvent;
  token: TokenEvent;
  toolProgress: ToolProgressEvent;
  status: StatusEvent;
  presence: PresenceEvent;
  roomSettings: RoomSettingsEvent;
  toolApproval: ToolApprovalEvent;
}

export type RoomEventName = keyof RoomEventMap;
export type RoomEvent = RoomEventMap[RoomEventName];

export const roomEventNames: readonly RoomEventName[] = ["message", "token", "toolProgress", "status", "presence", "roomSettings", "toolApproval"];

export const defaultRoomSettings: RoomSettings = { assistant: "always", onBusy: "queue", topic: null };

/** How a cancelled reply reads: "stopped by bob", "stopped: the server shut down". */
export function stoppedText(status: { cancelledBy?: RoomMember | null; reason?: CancelReason }): string {
  if (status.cancelledBy) {
    return status.reason === "interrupted" ? `interrupted by ${status.cancelledBy.name}` : `stopped by ${status.cancelledBy.name}`;
  }
  switch (status.reason) {
    case "shutdown":
      return "stopped: the server shut down";
    case "limit":
      return "stopped: the reply reached its length limit";
    default:
      return "stopped";
  }
}

export const finalStates: readonly GenerationState[] = ["completed", "cancelled", "failed"];

export function isFinal(state: GenerationState): boolean {
  return finalStates.includes(state);
}
