// Waits woken by recorded events, never by a timer loop. The predicate is checked once at the
// start and again on every event; on timeout the error says what was awaited and what was last seen.
import type { RecordedEvent, Recorder } from './recorder.ts';

export interface UntilOptions {
  /** Seconds; say where the bound comes from in `why`. */
  timeout: number;
  /** What is awaited, in words, e.g. "mysql-0 Ready again (bound: 2× the probe period + start)". */
  why: string;
  /** Prints the state the failure message should show; defaults to the last few events. */
  describe?: () => string;
}

export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
}

export function until<T>(
  rec: Recorder,
  check: (event?: RecordedEvent) => T | undefined | false | null,
  options: UntilOptions,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const first = check();
    if (first) return resolve(first);
    const started = performance.now();
    const off = rec.onEvent((event) => {
      let result: T | undefined | false | null;
      try {
        result = check(event);
      } catch (err) {
        finish();
        return reject(err);
      }
      if (result) {
        finish();
        resolve(result);
      }
    });
    const timer = setTimeout(() => {
      finish();
      const seen = options.describe ? options.describe() : lastEvents(rec, 8);
      reject(
        new WaitTimeout(
          `timed out after ${((performance.now() - started) / 1000).toFixed(1)}s waiting for: ${options.why}\nlast seen:\n${seen}`,
        ),
      );
    }, options.timeout * 1000);
    function finish() {
      clearTimeout(timer);
      off();
    }
  });
}

export function lastEvents(rec: Recorder, count: number): string {
  return rec.events
    .slice(-count)
    .map(
      (e) =>
        `  ${new Date(e.at).toISOString()} ${e.type} ${e.resource}/${e.name}${e.relisted ? ' (relisted)' : ''}`,
    )
    .join('\n');
}
