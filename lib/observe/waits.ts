// Waits woken by recorded events, never by a timer loop. The predicate is checked once at the
// start and again on every event; on timeout the error says what was awaited, the bound and where
// it came from, and what was last seen. The only timers here are the bounds themselves (and the
// window of `holds`, which is what that call measures).
import type { RecordedEvent, Recorder, StreamNotice } from './recorder.ts';

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

/** The verdict could not be formed: the stream had a gap, or the server's answer disagreed. */
export class Inconclusive extends Error {
  override name = 'Inconclusive';
}

export interface HoldsOptions {
  /** How long the invariant must hold (seconds): a window, not a timeout. */
  seconds: number;
  /** What must stay true, in words, and why the window is that long. */
  why: string;
  /** The resources the invariant reads: their streams must have no gap in the window, and each is
   * read afresh from the API server at its end. */
  resources: string[];
  /** Bound on that read and on the recorder catching up with it (seconds; default 10: a watch
   * delivers a write within milliseconds, this is room for a loaded 2-core machine). */
  confirmSeconds?: number;
}

/** What a stream can suffer that leaves a hole in what it saw: an absence across it proves nothing. */
const GAPS: ReadonlySet<StreamNotice['what']> = new Set(['idle', 'relist', 'gone', 'error']);

export interface HeldWindow {
  /** Wall-clock bounds of the window (ms). */
  from: number;
  to: number;
  /** resource -> resourceVersion of the fresh List the recorder agreed with at the end. */
  confirmedAt: Record<string, string>;
}

/**
 * Proves an absence: an invariant held for a whole window. Fails on the first event that breaks it
 * (InvariantBroken, with that event), and rejects with whatever the invariant throws. Silence alone
 * is not a pass: the window fails as Inconclusive when a stream of `resources` had a gap in it
 * (idle restart, re-list, 410, error), or when, at its end, a fresh List from the API server does
 * not agree with the recorder within `confirmSeconds`. Only then is the invariant judged once more,
 * on that agreed state, and the window held. `invariant` returns undefined while all is well, or a
 * description of the violation.
 */
export function holds(
  rec: Recorder,
  invariant: (event?: RecordedEvent) => string | undefined,
  options: HoldsOptions,
): Promise<HeldWindow> {
  return new Promise((resolve, reject) => {
    const from = Date.now();
    const after = () => `after ${((Date.now() - from) / 1000).toFixed(1)}s of ${options.seconds}s`;
    let over = false;
    const end = (err?: unknown, window?: HeldWindow) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      offEvent();
      offNotice();
      if (err) reject(err);
      else resolve(window!);
    };
    const judge = (event?: RecordedEvent) => {
      try {
        const violation = invariant(event);
        if (violation)
          end(
            new InvariantBroken(
              `${options.why}: broken ${after()} — ${violation}${event ? ` (${describeEvent(event)})` : ''}`,
            ),
          );
      } catch (err) {
        end(err);
      }
    };
    const offEvent = rec.onEvent(judge);
    const offNotice = rec.onNotice((n) => {
      if (!options.resources.includes(n.resource) || !GAPS.has(n.what)) return;
      const detail = n.detail ? ` (${n.detail})` : '';
      end(
        new Inconclusive(
          `${options.why}: inconclusive — the ${n.resource} watch had a gap ${after()}: ${n.what}${detail}; an absence across a gap proves nothing`,
        ),
      );
    });
    const timer = setTimeout(() => void confirm(), options.seconds * 1000);
    judge();

    async function confirm(): Promise<void> {
      const to = Date.now();
      const confirmedAt: Record<string, string> = {};
      const bound = options.confirmSeconds ?? 10;
      for (const resource of options.resources) {
        try {
          confirmedAt[resource] = await rec.consistentRead(resource, bound);
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          return end(new Inconclusive(`${options.why}: inconclusive — the window ended but ${why}`));
        }
      }
      judge();
      end(undefined, { from, to, confirmedAt });
    }
  });
}

/**
 * Throws Inconclusive when a stream of `resources` had a gap (idle restart, re-list, 410, error)
 * between `from` and `to` (wall ms): events around a gap may be a re-list's reconstruction, whose
 * times are the re-list's, so no order or absence may be judged across it.
 */
export function gapFree(rec: Recorder, resources: string[], from: number, to = Date.now()): void {
  const gap = rec.notices.find(
    (n) => resources.includes(n.resource) && GAPS.has(n.what) && n.at >= from && n.at <= to,
  );
  if (gap)
    throw new Inconclusive(
      `inconclusive: the ${gap.resource} watch had a gap (${gap.what}${gap.detail ? `: ${gap.detail}` : ''}) at +${((gap.at - from) / 1000).toFixed(1)}s of the window judged`,
    );
}

export function describeEvent(e: RecordedEvent): string {
  return `${new Date(e.at).toISOString()} ${e.type} ${e.resource}/${e.name} uid=${e.uid.slice(0, 8)} rv=${e.resourceVersion}${e.relisted ? ' (relisted)' : ''}`;
}

export function lastEvents(rec: Recorder, count: number): string {
  const events = rec.events.slice(-count);
  if (!events.length) return '  (no event recorded)';
  return events.map((e) => `  ${describeEvent(e)}`).join('\n');
}
