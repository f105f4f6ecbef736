/** Events pushed by one side (IPC, callbacks), pulled by an async iterator on the other; `onStop` runs if the reader quits early. */
export class EventQueue<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake?: () => void;

  constructor(private readonly onStop: () => void) {}

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *iterate(): AsyncGenerator<T> {
    let finished = false;
    try {
      for (;;) {
        while (this.items.length > 0) yield this.items.shift()!;
        if (this.ended) break;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
      finished = true;
    } finally {
      if (!finished) this.onStop();
    }
  }
}
