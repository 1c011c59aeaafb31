// Phase-by-phase console output: what the scenario does, what it waits for, and the evidence.
// The same lines are also kept, with wall-clock times, in the open story (if any), so that the
// scenario can write them next to its timeline and the run report can tell the story again.
import type { EvidenceRow, StoryEntry } from '../report/data.ts';

const t0 = performance.now();
const stamp = () => `+${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s`;

// A stack, so a scenario opened inside another's lifetime collects its own lines, and the outer
// one gets its lines again once the inner one is closed.
const stories: StoryEntry[][] = [];

/** Starts collecting every phase/note/evidence line until `endStory` with the same array. */
export function beginStory(): StoryEntry[] {
  const story: StoryEntry[] = [];
  stories.push(story);
  return story;
}

export function endStory(story: StoryEntry[]): void {
  const i = stories.lastIndexOf(story);
  if (i >= 0) stories.splice(i, 1);
}

let echo = true;
/** Whether phase/note/evidence also print (the lab runner prints its own tables and words). */
export function setEcho(on: boolean): void {
  echo = on;
}

const print = (line: string) => {
  if (echo) console.log(line);
};

function keep(entry: StoryEntry): void {
  stories.at(-1)?.push(entry);
}

export function phase(text: string): void {
  keep({ kind: 'phase', at: Date.now(), text });
  print(`    ${stamp()} ▶ ${text}`);
}

export function note(text: string): void {
  keep({ kind: 'note', at: Date.now(), text });
  print(`    ${stamp()}   ${text}`);
}

export function evidence(title: string, rows: EvidenceRow[]): void {
  // A copy: the caller may reuse its row objects, the story must keep what was shown.
  keep({ kind: 'evidence', at: Date.now(), text: title, rows: rows.map((r) => ({ ...r })) });
  print(`    ${stamp()}   evidence: ${title}`);
  if (!rows.length) return;
  // Every row's keys, in order of first appearance: a column only a later row has is still shown.
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => '      ' + vals.map((v, i) => v.padEnd(width[i]!)).join('  ');
  print(line(cols));
  for (const r of rows) print(line(cols.map((c) => String(r[c] ?? ''))));
}
