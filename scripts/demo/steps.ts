// Story steps with deadlines: a step either happens within its time or the demo stops and says which one did not.
import { setTimeout as sleep } from 'node:timers/promises';

/** A story step that did not happen in time. */
export class StepMissed extends Error {
  constructor(
    readonly step: string,
    readonly seconds: number,
  ) {
    super(`${step}: did not happen within ${seconds} s`);
  }
}

/** Ctrl-C (or SIGTERM): the reason the interrupt signal aborts with. */
export class Interrupted extends Error {}

/**
 * Runs `work` with a signal that aborts on `interrupt` or after `seconds`, and returns (throws) by then even if
 * `work` does not listen: the timeout becomes StepMissed(step), the interrupt its reason. The signal comes from a
 * plain AbortController that the timer and the interrupt's listener hold, rather than AbortSignal.any(), whose
 * composite Node only holds weakly from its sources.
 */
export async function within<T>(seconds: number, step: string, interrupt: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new StepMissed(step, Math.round(seconds))), Math.round(seconds * 1000));
  const release = follow(interrupt, deadline);
  const gaveUp = new Promise<never>((_, reject) => {
    if (deadline.signal.aborted) reject(deadline.signal.reason);
    deadline.signal.addEventListener('abort', () => reject(deadline.signal.reason), { once: true });
  });
  const working = work(deadline.signal);
  working.catch(() => {}); // when it fails after the deadline, nobody is waiting any more
  try {
    return await Promise.race([working, gaveUp]);
  } catch (e) {
    throw deadline.signal.aborted ? deadline.signal.reason : e;
  } finally {
    clearTimeout(timer);
    release();
  }
}

/** Aborts `controller` (with the same reason) when `parent` aborts; returns a function that stops following. */
export function follow(parent: AbortSignal, controller: AbortController): () => void {
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return () => parent.removeEventListener('abort', onAbort);
}

/** Calls `probe` every `everyMs` until it returns something other than undefined (a failed probe is tried again). */
export async function poll<T>(signal: AbortSignal, everyMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    signal.throwIfAborted();
    try {
      const found = await probe();
      if (found !== undefined) return found;
    } catch {
      // the server busy for a moment is not the end of the story; the step's deadline is
    }
    await sleep(everyMs, undefined, { signal });
  }
}

/**
 * Sleeps until `offsetMs` after the next boundary of `windowSeconds`-long windows (negative: before it), so traffic
 * phases fill whole windows and no window mixes two phases.
 */
export async function untilBoundary(windowSeconds: number, offsetMs: number, signal: AbortSignal): Promise<void> {
  const w = windowSeconds * 1000;
  const at = Math.ceil((Date.now() - offsetMs) / w) * w + offsetMs;
  await sleep(Math.max(0, at - Date.now()), undefined, { signal });
}
