export * from "./contract";
export { ChatClient, errorText, getTicket, hubPath, signInAsGuest } from "./client";
export type { AnyRoomEvent, ChatClientOptions, ChatReply, ConnectionState, HubProtocolName, Ticket } from "./client";
export { ObservableValue } from "./observable";
export type { Observable } from "./observable";
export { RoomTracker, firstSeqOf } from "./room-tracker";
export type { Arrival, NamedEvent } from "./room-tracker";
export { MarkdownView, parseMarkdown, renderMarkdown, safeHref, splitBlocks } from "./markdown";
