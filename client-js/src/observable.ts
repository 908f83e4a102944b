/** A value that can be read at any time and watched for changes. */
export interface Observable<T> {
  get(): T;
  /** Calls `listener` with the current value at once and on every change; returns the unsubscribe function. */
  subscribe(listener: (value: T) => void): () => void;
}

/** The writable side of an {@link Observable}: only its owner sets it. */
export class ObservableValue<T> implements Observable<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private value: T) {}

  get(): T {
    return this.value;
  }

  set(value: T): void {
    if (Object.is(value, this.value)) {
      return;
    }
    this.value = value;
    for (const listener of [...this.listeners]) {
      listener(value);
    }
  }

  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    listener(this.value);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
