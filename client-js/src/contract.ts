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
}

export interface SendMessageResult {
  messageId: string;
  generationId: string;
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
}

export type RoomEventName = keyof RoomEventMap;
export type RoomEvent = RoomEventMap[RoomEventName];

export const roomEventNames: readonly RoomEventName[] = ["message", "token", "toolProgress", "status", "presence"];

export const finalStates: readonly GenerationState[] = ["completed", "cancelled", "failed"];

export function isFinal(state: GenerationState): boolean {
  return finalStates.includes(state);
}
