import type { StatusEvent, ToolProgressEvent } from "./contract";

/**
 * What is known of one generation: its token deltas in order and, once it ended, its final status.
 * Any number of readers iterate the tokens, each from the first one.
 */
export class ReplyState {
  readonly tokens: string[] = [];
  final: StatusEvent | undefined;
  private readonly wakers = new Set<() => void>();
  private readonly finished: Promise<StatusEvent>;
  private finish!: (status: StatusEvent) => void;
  readonly tools = new Map<string, ToolProgressEvent>();
  private abandoned = false;

  constructor() {
    this.finished = new Promise<StatusEvent>((resolve) => {
      this.finish = resolve;
    });
  }

  get completion(): Promise<StatusEvent> {
    return this.finished;
  }

  private before = "";

  get text(): string {
    return this.before + this.tokens.join("");
  }

  /** The reply was already under way when this client came in: `text` starts with what it had then. */
  begin(textSoFar: string): void {
    this.before = textSoFar;
  }

  pushToken(text: string): void {
    if (this.final) {
      return;
    }
    this.tokens.push(text);
    this.wake();
  }

  /** The connection was closed: readers stop where they are (the completion stays pending). */
  abandon(): void {
    this.abandoned = true;
    this.wake();
  }

  end(status: StatusEvent): void {
    if (this.final) {
      return;
    }
    this.final = status;
    this.finish(status);
    this.wake();
  }

  async *iterate(): AsyncGenerator<string, void, undefined> {
    let next = 0;
    for (;;) {
      while (next < this.tokens.length) {
        yield this.tokens[next++] as string;
      }
      if (this.final || this.abandoned) {
        return;
      }
      await new Promise<void>((resolve) => this.wakers.add(resolve));
    }
  }

  private wake(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const wake of wakers) {
      wake();
    }
  }
}
