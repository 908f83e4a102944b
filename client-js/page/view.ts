// The conversation's DOM: one element per message, text built as nodes (never innerHTML).
import type { ChatMessage, MessageState, ToolProgressEvent } from "../src/contract";
import { renderMarkdown } from "../src/markdown";

const badges: Record<MessageState, string> = { generating: "generating", completed: "", cancelled: "stopped", failed: "failed" };

interface MessageView {
  element: HTMLElement;
  role: ChatMessage["role"];
  text: string;
  renderPending: boolean;
}

/** Renders and updates the messages of one room inside the `role="log"` element. */
export class ConversationView {
  private readonly views = new Map<string, MessageView>();

  constructor(private readonly log: HTMLElement) {}

  clear(): void {
    this.views.clear();
    this.log.replaceChildren();
  }

  /** Puts older messages (oldest first) above those shown, keeping what the reader looks at where it is. */
  prepend(messages: readonly ChatMessage[]): void {
    const fresh = messages.filter((m) => !this.views.has(m.messageId));
    if (fresh.length === 0) {
      return;
    }
    const fromBottom = this.log.scrollHeight - this.log.scrollTop;
    const first = this.log.firstElementChild;
    for (const message of fresh) {
      const view = this.create(message);
      this.log.insertBefore(view.element, first);
      this.setState(message.messageId, message.state);
      this.setText(message.messageId, message.text);
    }
    this.log.scrollTop = this.log.scrollHeight - fromBottom;
  }

  /** Adds a message, or brings an existing one up to date. */
  upsert(message: ChatMessage): void {
    let view = this.views.get(message.messageId);
    if (!view) {
      view = this.create(message);
      const stick = this.nearBottom();
      this.log.append(view.element);
      if (stick) {
        this.scrollToEnd();
      }
    }
    this.setState(message.messageId, message.state);
    this.setText(message.messageId, message.text);
  }

  private create(message: ChatMessage): MessageView {
    const element = document.createElement("article");
    element.className = "message";
    element.dataset["messageId"] = message.messageId;
    element.dataset["role"] = message.role;
    const meta = document.createElement("div");
    meta.className = "meta";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = message.authorName;
    const time = document.createElement("time");
    time.dateTime = message.createdAt;
    time.textContent = new Date(message.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const badge = document.createElement("span");
    badge.className = "badge";
    meta.append(author, time, badge);
    const tools = document.createElement("div");
    tools.className = "tools";
    const text = document.createElement("div");
    text.className = "text";
    const error = document.createElement("p");
    error.className = "error";
    element.append(meta, tools, text, error);
    const view: MessageView = { element, role: message.role, text: "", renderPending: false };
    this.views.set(message.messageId, view);
    return view;
  }

  has(messageId: string): boolean {
    return this.views.has(messageId);
  }

  textOf(messageId: string): string {
    return this.views.get(messageId)?.text ?? "";
  }

  setState(messageId: string, state: MessageState, error?: string): void {
    const view = this.views.get(messageId);
    if (!view) {
      return;
    }
    view.element.dataset["state"] = state;
    view.element.setAttribute("aria-busy", state === "generating" ? "true" : "false");
    const badge = view.element.querySelector(".badge");
    if (badge) {
      badge.textContent = badges[state];
    }
    const errorLine = view.element.querySelector(".error");
    if (errorLine && error !== undefined) {
      errorLine.textContent = error;
    }
  }

  appendText(messageId: string, delta: string): void {
    const view = this.views.get(messageId);
    if (view) {
      this.setText(messageId, view.text + delta);
    }
  }

  setText(messageId: string, text: string): void {
    const view = this.views.get(messageId);
    if (!view) {
      return;
    }
    view.text = text;
    if (view.role === "user") {
      this.textElement(view).textContent = text;
      return;
    }
    // Tokens come faster than frames: re-render the markdown at most once a frame.
    if (!view.renderPending) {
      view.renderPending = true;
      requestAnimationFrame(() => this.renderAssistant(view));
    }
  }

  showTool(messageId: string, progress: ToolProgressEvent): void {
    const view = this.views.get(messageId);
    if (!view) {
      return;
    }
    const tools = view.element.querySelector(".tools") as HTMLElement;
    let line = tools.querySelector<HTMLElement>(`[data-call-id="${CSS.escape(progress.callId)}"]`);
    if (!line) {
      line = document.createElement("div");
      line.className = "tool";
      line.dataset["callId"] = progress.callId;
      const name = document.createElement("span");
      name.className = "tool-name";
      const phase = document.createElement("span");
      phase.className = "tool-phase";
      const bar = document.createElement("progress");
      bar.max = 1;
      const detail = document.createElement("span");
      detail.className = "tool-detail";
      line.append(name, phase, bar, detail);
      tools.append(line);
    }
    line.dataset["tool"] = progress.tool;
    line.dataset["phase"] = progress.phase;
    (line.querySelector(".tool-name") as HTMLElement).textContent = progress.tool;
    const percent = progress.progress === undefined ? "" : ` ${Math.round(progress.progress * 100)}%`;
    (line.querySelector(".tool-phase") as HTMLElement).textContent = `${progress.phase}${percent}`;
    const bar = line.querySelector("progress") as HTMLProgressElement;
    bar.hidden = progress.progress === undefined && progress.phase !== "completed";
    if (progress.progress !== undefined) {
      bar.value = progress.progress;
    } else if (progress.phase === "completed") {
      bar.value = 1;
    }
    (line.querySelector(".tool-detail") as HTMLElement).textContent = progress.detail ?? "";
  }

  private renderAssistant(view: MessageView): void {
    view.renderPending = false;
    const stick = this.nearBottom();
    this.textElement(view).replaceChildren(...renderMarkdown(document, view.text));
    if (stick) {
      this.scrollToEnd();
    }
  }

  private textElement(view: MessageView): HTMLElement {
    return view.element.querySelector(".text") as HTMLElement;
  }

  private nearBottom(): boolean {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
  }

  private scrollToEnd(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }
}
