/**
 * Polls `condition` every 2 ms until it holds and returns how long that took; after `ms` it fails with
 * `state()` in its message, so that a test waiting on something that will not come says what it saw.
 */
export async function until(condition: () => boolean, what: string, state: () => unknown = () => undefined, ms = 20_000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > ms) throw new Error(`waited ${ms} ms for ${what}: ${JSON.stringify(state())}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return Date.now() - started;
}
