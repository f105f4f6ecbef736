import { ApiError } from "../../errors.js";

export const shuttingDown = () => new ApiError(503, "The server is shutting down; retry on another instance.", "server_error", "server_shutting_down", null, 1_000);

/**
 * Serving or draining, and the generations in flight. Draining refuses new generations, waits for the
 * running ones up to a grace period, then cancels the rest (their streams end with an error event).
 */
export class Lifecycle {
  private draining = false;
  private readonly running = new Set<AbortController>();
  private onIdle?: () => void;

  get isDraining(): boolean {
    return this.draining;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /** Registers a generation; its signal aborts when a drain cancels it. Throws 503 while draining. */
  begin(): { signal: AbortSignal; end(): void } {
    if (this.draining) throw shuttingDown();
    const controller = new AbortController();
    this.running.add(controller);
    return {
      signal: controller.signal,
      end: () => {
        this.running.delete(controller);
        if (this.running.size === 0) this.onIdle?.();
      },
    };
  }

  /** Stops admitting, lets generations finish for `graceMs`, cancels what is left; resolves when none runs. */
  async drain(graceMs: number): Promise<{ finished: number; cancelled: number }> {
    this.draining = true;
    const before = this.running.size;
    if (!(await this.idle(graceMs))) for (const controller of this.running) controller.abort(shuttingDown());
    const cancelled = this.running.size;
    await this.idle(5_000);
    return { finished: before - cancelled, cancelled };
  }

  private idle(ms: number): Promise<boolean> {
    if (this.running.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
