// The conversation's DOM: one element per message, text built as nodes (never innerHTML).
import type { ChatMessage, MessageState, ToolApprovalEvent, ToolProgressEvent } from "../src/contract";
import { MarkdownView } from "../src/markdown";

const badges: Record<MessageState, string> = { generating: "generating", completed: "", cancelled: "stopped", failed: "failed" };

interface MessageView {
  element: HTMLElement;
  role: ChatMessage["role"];
  text: string;
  renderPending: boolean;
  /** The first version of this reply (itself unless it regenerates another). */
  root: string;
  markdown?: MarkdownView;
}

/** What the page does when a member acts on a message. */
export interface ConversationActions {
  regenerate(messageId: string): void;
  decide(approvalId: string, approve: boolean): void;
}

const approvalText: Record<ToolApprovalEvent["state"], string> = {
  pending: "waits for approval",
  approved: "approved",
  denied: "denied",
  expired: "expired: nobody decided in time",
};

/** Renders and updates the messages of one room inside the `role="log"` element. */
export class ConversationView {
  private readonly views = new Map<string, MessageView>();
  // Root reply id -> its versions in order (the first reply, then each regenerated one), and the one shown.
  private readonly versions = new Map<string, string[]>();
  private readonly shown = new Map<string, string>();

  constructor(
    private readonly log: HTMLElement,
    private readonly actions?: ConversationActions,
  ) {}

  clear(): void {
    this.views.clear();
    this.versions.clear();
    this.shown.clear();
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
      const root = view.root;
      const previous = message.regenerates ? this.views.get(this.shown.get(root) ?? message.regenerates) : undefined;
      if (previous) {
        // A new version of a reply takes the place of the one shown; the pager flips between them.
        previous.element.after(view.element);
      } else {
        this.log.append(view.element);
      }
      if (message.role === "assistant") {
        const list = this.versions.get(root) ?? [];
        list.push(message.messageId);
        this.versions.set(root, list);
        this.showVersion(root, message.messageId);
      }
      if (stick) {
        this.scrollToEnd();
      }
    }
    if (message.state === "cancelled" && message.cancelledBy) {
      this.setNote(message.messageId, `stopped by ${message.cancelledBy.name}`);
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
    const note = document.createElement("p");
    note.className = "note";
    element.append(meta, tools, text, error, note);
    const root = message.regenerates ? (this.views.get(message.regenerates)?.root ?? message.regenerates) : message.messageId;
    const view: MessageView = { element, role: message.role, text: "", renderPending: false, root };
    if (message.role === "assistant") {
      element.append(this.replyActions(message.messageId));
    }
    this.views.set(message.messageId, view);
    if (message.state === "cancelled" && message.cancelledBy) {
      note.textContent = `stopped by ${message.cancelledBy.name}`;
    }
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
    const regenerate = view.element.querySelector<HTMLButtonElement>(".regenerate");
    if (regenerate) {
      regenerate.hidden = state === "generating";
    }
    const errorLine = view.element.querySelector(".error");
    if (errorLine && error !== undefined) {
      errorLine.textContent = error;
    }
  }

  /** A line under the message, such as who stopped it. */
  setNote(messageId: string, note: string): void {
    const line = this.views.get(messageId)?.element.querySelector(".note");
    if (line) {
      line.textContent = note;
    }
  }

  /** Shows a tool call that waits for a member's decision, with Approve and Deny while it waits, and who decided. */
  showApproval(messageId: string, approval: ToolApprovalEvent): void {
    const view = this.views.get(messageId);
    if (!view) {
      return;
    }
    const tools = view.element.querySelector(".tools") as HTMLElement;
    let line = tools.querySelector<HTMLElement>(`[data-approval-id="${CSS.escape(approval.approvalId)}"]`);
    if (!line) {
      line = document.createElement("div");
      line.className = "approval";
      line.dataset["approvalId"] = approval.approvalId;
      line.setAttribute("role", "group");
      line.setAttribute("aria-label", `Approve ${approval.tool}`);
      const name = document.createElement("span");
      name.className = "tool-name";
      name.textContent = approval.tool;
      const args = document.createElement("code");
      args.textContent = JSON.stringify(approval.arguments);
      const state = document.createElement("span");
      state.className = "approval-state";
      const approve = document.createElement("button");
      approve.type = "button";
      approve.textContent = "Approve";
      approve.addEventListener("click", () => this.actions?.decide(approval.approvalId, true));
      const deny = document.createElement("button");
      deny.type = "button";
      deny.textContent = "Deny";
      deny.addEventListener("click", () => this.actions?.decide(approval.approvalId, false));
      line.append(name, args, state, approve, deny);
      tools.append(line);
    }
    line.dataset["state"] = approval.state;
    const decided = approval.decidedBy ? ` by ${approval.decidedBy.name}` : "";
    (line.querySelector(".approval-state") as HTMLElement).textContent = `${approvalText[approval.state]}${decided}`;
    for (const button of line.querySelectorAll("button")) {
      button.hidden = approval.state !== "pending";
    }
  }

  /** Shows one version of a reply in place of the others. */
  showVersion(root: string, messageId: string): void {
    const list = this.versions.get(root);
    if (!list || !list.includes(messageId)) {
      return;
    }
    this.shown.set(root, messageId);
    const index = list.indexOf(messageId);
    for (const id of list) {
      const view = this.views.get(id);
      if (!view) {
        continue;
      }
      view.element.hidden = id !== messageId;
      const pager = view.element.querySelector<HTMLElement>(".versions");
      if (pager) {
        pager.hidden = list.length < 2;
        (pager.querySelector(".version-label") as HTMLElement).textContent = `version ${index + 1} of ${list.length}`;
        (pager.querySelector(".previous-version") as HTMLButtonElement).disabled = index === 0;
        (pager.querySelector(".next-version") as HTMLButtonElement).disabled = index === list.length - 1;
      }
    }
  }

  private flip(messageId: string, step: number): void {
    const root = this.views.get(messageId)?.root;
    const list = root ? this.versions.get(root) : undefined;
    const current = root ? this.shown.get(root) : undefined;
    if (!root || !list || current === undefined) {
      return;
    }
    const next = list[list.indexOf(current) + step];
    if (next) {
      this.showVersion(root, next);
    }
  }

  private replyActions(messageId: string): HTMLElement {
    const bar = document.createElement("div");
    bar.className = "reply-actions";
    const regenerate = document.createElement("button");
    regenerate.type = "button";
    regenerate.className = "regenerate";
    regenerate.textContent = "Regenerate";
    regenerate.addEventListener("click", () => this.actions?.regenerate(messageId));
    const pager = document.createElement("span");
    pager.className = "versions";
    pager.hidden = true;
    const previous = document.createElement("button");
    previous.type = "button";
    previous.className = "previous-version";
    previous.textContent = "‹";
    previous.setAttribute("aria-label", "Previous version");
    previous.addEventListener("click", () => this.flip(messageId, -1));
    const label = document.createElement("span");
    label.className = "version-label";
    const next = document.createElement("button");
    next.type = "button";
    next.className = "next-version";
    next.textContent = "›";
    next.setAttribute("aria-label", "Next version");
    next.addEventListener("click", () => this.flip(messageId, 1));
    pager.append(previous, label, next);
    bar.append(regenerate, pager);
    return bar;
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
    view.markdown ??= new MarkdownView(document, this.textElement(view));
    view.markdown.render(view.text);
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
