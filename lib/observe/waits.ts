// Waits woken by recorded events, never by a timer loop. The predicate is checked once at the
// start and again on every event; on timeout the error says what was awaited, the bound and where
// it came from, and what was last seen. The only timers here are the bounds themselves (and the
// window of `holds`, which is what that call measures).
import type { RecordedEvent, Recorder } from './recorder.ts';

export interface UntilOptions {
  /** Seconds; say where the bound comes from in `why` (settings.ts derives most of them). */
  timeout: number;
  /** What is awaited, in words, e.g. "mysql-0 Ready again (bound: 2× the probe period + start)". */
  why: string;
  /** Prints the state the failure message should show; defaults to the last few events. */
  describe?: () => string;
}

export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
  readonly why: string;
  readonly waitedSeconds: number;
  readonly lastSeen: string;

  constructor(why: string, waitedSeconds: number, lastSeen: string) {
    super(`timed out after ${waitedSeconds.toFixed(1)}s waiting for: ${why}\nlast seen:\n${lastSeen}`);
    this.why = why;
    this.waitedSeconds = waitedSeconds;
    this.lastSeen = lastSeen;
  }
}

/** A predicate's answer: anything truthy ends the wait and is returned. */
export type Check<T> = (event?: RecordedEvent) => T | undefined | false | null;

/** Resolves with the first truthy answer of `check`, evaluated now and after every recorded event. */
export function until<T>(rec: Recorder, check: Check<T>, options: UntilOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const started = performance.now();
    let first: T | undefined | false | null;
    try {
      first = check();
    } catch (err) {
      return reject(err);
    }
    if (first) return resolve(first);
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
      reject(new WaitTimeout(options.why, (performance.now() - started) / 1000, seen));
    }, options.timeout * 1000);
    function finish() {
      clearTimeout(timer);
      off();
    }
  });
}

export class InvariantBroken extends Error {
  override name = 'InvariantBroken';
}

export interface HoldsOptions {
  /** How long the invariant must hold (seconds): a window, not a timeout. */
  seconds: number;
  /** What must stay true, in words, and why the window is that long. */
  why: string;
}

/**
 * Watches an invariant for a whole window: fails on the first event that breaks it (with that
 * event), succeeds when the window is over. `invariant` returns undefined while all is well, or a
 * description of the violation. Resolves with the window's wall-clock bounds (ms).
 */
export function holds(
  rec: Recorder,
  invariant: (event?: RecordedEvent) => string | undefined,
  options: HoldsOptions,
): Promise<{ from: number; to: number }> {
  return new Promise((resolve, reject) => {
    const from = Date.now();
    const broken = (why: string, event?: RecordedEvent) =>
      new InvariantBroken(
        `${options.why}: broken after ${((Date.now() - from) / 1000).toFixed(1)}s of ${options.seconds}s — ${why}` +
          (event ? ` (${describeEvent(event)})` : ''),
      );
    const now = invariant();
    if (now) return reject(broken(now));
    const off = rec.onEvent((event) => {
      const violation = invariant(event);
      if (violation) {
        clearTimeout(timer);
        off();
        reject(broken(violation, event));
      }
    });
    const timer = setTimeout(() => {
      off();
      resolve({ from, to: Date.now() });
    }, options.seconds * 1000);
  });
}

export function describeEvent(e: RecordedEvent): string {
  return `${new Date(e.at).toISOString()} ${e.type} ${e.resource}/${e.name} uid=${e.uid.slice(0, 8)} rv=${e.resourceVersion}${e.relisted ? ' (relisted)' : ''}`;
}

export function lastEvents(rec: Recorder, count: number): string {
  const events = rec.events.slice(-count);
  if (!events.length) return '  (no event recorded)';
  return events.map((e) => `  ${describeEvent(e)}`).join('\n');
}
