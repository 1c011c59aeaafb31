// The files a scenario leaves in artifacts/<run>/<scenario>/ for the run report, and how they are
// read back. Written by the scenario's after hook; read by the report builder, at the end of a run
// or later by `npm run report -- artifacts/<run>`, so the JSON is the contract, not memory.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultRecord } from '../faults/faults.ts';
import type { RecordedEvent } from '../observe/recorder.ts';
import { writeTimeline, type CaseResult, type TimelineRow } from './results.ts';

/** One row of an evidence table, as printed and as the report shows it. */
export type EvidenceRow = Record<string, string | number | boolean | undefined>;

/** A printed line of a run's story (lib/run/console.ts), with its wall-clock time. */
export type StoryEntry =
  | { kind: 'phase' | 'note'; at: number; text: string }
  | { kind: 'evidence'; at: number; text: string; rows: EvidenceRow[] };

export const FILES = {
  timeline: 'timeline.json',
  story: 'story.json',
  faults: 'faults.json',
  scenario: 'scenario.json',
  /** Run level, next to junit.xml: every test and hook result of the run. */
  results: 'results.json',
  report: 'report.html',
} as const;

/** One test's (or a failed hook's) outcome, when it was reached, and why it failed. */
export interface Verdict {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  /** Wall clock (ms) when the verdict was reached. */
  at: number;
  ms?: number;
  message?: string;
}

export interface ScenarioMeta {
  name: string;
  run: string;
  namespace: string;
  startedAt: number;
  endedAt: number;
  verdicts: Verdict[];
}

/** Everything the report knows about one scenario. */
export interface ScenarioData {
  /** Directory name under the run (the scenario's name). */
  dir: string;
  meta?: ScenarioMeta;
  rows: TimelineRow[];
  story: StoryEntry[];
  faults: FaultRecord[];
  /** Other files of the directory: the diagnostics bundle when the scenario failed. */
  diagnostics: string[];
  /** Which of the scenario's own files exist (older runs wrote only timeline.json). */
  files: string[];
  /** A timeline from before rows carried summaries: object lifetimes only, no node, IP or Ready. */
  legacy: boolean;
}

export interface RunData {
  run: string;
  /** Run-level files present (junit.xml, results.json). */
  files: string[];
  results: CaseResult[];
  scenarios: ScenarioData[];
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 1) + '\n');
}

export function writeScenarioFiles(
  dir: string,
  data: { meta: ScenarioMeta; events: RecordedEvent[]; story: StoryEntry[]; faults: readonly FaultRecord[] },
): void {
  mkdirSync(dir, { recursive: true });
  writeTimeline(join(dir, FILES.timeline), data.events);
  writeJson(join(dir, FILES.story), data.story);
  writeJson(join(dir, FILES.faults), data.faults);
  writeJson(join(dir, FILES.scenario), data.meta);
}

export function writeRunResults(runDir: string, cases: CaseResult[]): void {
  mkdirSync(runDir, { recursive: true });
  writeJson(join(runDir, FILES.results), cases);
}

function readJson<T>(file: string, fallback: T): T {
  if (!existsSync(file)) return fallback;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    // A file cut by an interrupted run: the report shows what the other files hold.
    return fallback;
  }
}

const OWN = new Set<string>(Object.values(FILES));

/** Reads a run directory. Timelines of older runs (raw events, no summary) are read as rows too. */
export function readRun(runDir: string): RunData {
  const run = runDir.replace(/\/+$/, '').split('/').at(-1) ?? runDir;
  const scenarios: ScenarioData[] = [];
  for (const dir of readdirSync(runDir).sort()) {
    const path = join(runDir, dir);
    if (!statSync(path).isDirectory()) continue;
    const rows = readJson<Array<Partial<TimelineRow> & { at: string | number }>>(
      join(path, FILES.timeline),
      [],
    ).map((r) => ({
      ...r,
      at: typeof r.at === 'number' ? new Date(r.at).toISOString() : r.at,
      summary: r.summary ?? {},
    }));
    const names = readdirSync(path).sort();
    scenarios.push({
      dir,
      meta: readJson<ScenarioMeta | undefined>(join(path, FILES.scenario), undefined),
      rows: rows as TimelineRow[],
      // In time order whoever wrote it: phases are numbered in this order in the SVG and the list.
      story: readJson<StoryEntry[]>(join(path, FILES.story), []).sort((a, b) => a.at - b.at),
      faults: readJson<FaultRecord[]>(join(path, FILES.faults), []),
      diagnostics: names.filter((f) => !OWN.has(f)),
      files: names.filter((f) => OWN.has(f)),
      legacy: rows.length > 0 && rows.every((r) => Object.keys(r.summary).length === 0),
    });
  }
  return {
    run,
    files: ['junit.xml', FILES.results].filter((f) => existsSync(join(runDir, f))),
    results: readJson<CaseResult[]>(join(runDir, FILES.results), []),
    scenarios,
  };
}
