// Follows a model's windows through the public windows API and reports each one once it has a verdict.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JudgedWindow } from './narrate.ts';

export interface WindowWatch {
  /** Resolves with the first judged window (past or future) that matches; rejects when `signal` aborts. */
  waitFor(match: (w: JudgedWindow) => boolean, signal: AbortSignal): Promise<JudgedWindow>;
}

/**
 * Polls GET /v1/models/{model}/windows every `everyMs` from `since` (epoch seconds) until `signal` aborts, and calls
 * `onJudged` once per window with a verdict and traffic (windows without predictions are left out), oldest first.
 */
export function watchWindows(
  url: string,
  model: string,
  since: number,
  onJudged: (w: JudgedWindow) => void,
  signal: AbortSignal,
  everyMs = 1_000,
): WindowWatch {
  const judged: JudgedWindow[] = [];
  const listeners = new Set<(w: JudgedWindow) => void>();
  void (async () => {
    const seen = new Set<number>();
    while (!signal.aborted) {
      try {
        const response = await fetch(`${url}/v1/models/${encodeURIComponent(model)}/windows?since=${since}&limit=1000`, {
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await response.json()) as { windows?: JudgedWindow[] };
        const fresh = (body.windows ?? []).filter((w) => w.verdict !== null && w.n > 0 && !seen.has(w.start_epoch));
        for (const w of fresh.sort((a, b) => a.start_epoch - b.start_epoch)) {
          seen.add(w.start_epoch);
          judged.push(w);
          onJudged(w);
          for (const listener of listeners) listener(w);
        }
      } catch {
        // busy, or stopping: try again
      }
      await sleep(everyMs, undefined, { signal }).catch(() => {});
    }
  })();
  return {
    waitFor(match, waitSignal) {
      const past = judged.find(match);
      if (past) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const listener = (w: JudgedWindow) => {
          if (!match(w)) return;
          listeners.delete(listener);
          waitSignal.removeEventListener('abort', onAbort);
          resolve(w);
        };
        const onAbort = () => {
          listeners.delete(listener);
          reject(waitSignal.reason);
        };
        if (waitSignal.aborted) return onAbort();
        listeners.add(listener);
        waitSignal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
