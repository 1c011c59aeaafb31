// How fast the live view shows what the recorder sees: one lab run (default pod-loss) with `--view`,
// a headless chromium following the page the whole time. The page tells the server when it applied
// each update; per event, the time from the recorder seeing it to the page showing it. Printed as
// figures (p50, p95, max) for every event and for pod deletions: a benchmark, not a test.
// Usage: npm run bench:view [-- <lab>]
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ARTIFACTS_DIR } from '../../lib/cluster/paths.ts';
import { BEHAVIOURS } from '../../behaviours/index.ts';
import { LAB_NAMES, loadTexts, loadUi, type LabName } from '../../labs/catalog.ts';
import { runLab } from '../../lib/lab/runner.ts';
import { chromiumPath, offlineFlags } from '../../lib/view/browser.ts';
import type { Shown } from '../../lib/view/live.ts';

const lab = (process.argv[2] ?? 'pod-loss') as LabName;
if (!LAB_NAMES.includes(lab)) {
  console.error(`bench:view: no lab ${lab}; labs: ${LAB_NAMES.join(', ')}`);
  process.exit(2);
}
const chromium = chromiumPath();
const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
let browser: ReturnType<typeof spawn> | undefined;
let shot: Promise<void> | undefined;
const run = promisify(execFile);
const png = join(ARTIFACTS_DIR, 'live-view', `${lab}-mid-lab.png`);
mkdirSync(dirname(png), { recursive: true });
const text = loadTexts().find((t) => t.name === lab)!;
const result = await runLab(BEHAVIOURS[lab], text, loadUi(), {
  lang: 'en',
  pause: false,
  view: true,
  onView(view) {
    browser = spawn(chromium, [...offlineFlags(profile, 1600, 1000), view.url], { stdio: 'ignore' });
    // A second look, as a late-comer's reload: the page mid-lab, once the first pod deletion is shown.
    const flags = offlineFlags(mkdtempSync(join(profile, 'shot-')), 1600, 1000);
    shot = view
      .whenShown((s) => s.deletion, 900)
      .then(() => run(chromium, [...flags, `--screenshot=${png}`, view.url]))
      .then(
        () => console.log(`  mid-lab screenshot: ${png}`),
        (err: Error) => console.log(`  no mid-lab screenshot: ${err.message}`),
      );
  },
});
await shot;
browser?.kill();
rmSync(profile, { recursive: true, force: true });

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
function line(what: string, shown: Shown[]) {
  const ms = shown.map((s) => s.ms);
  if (!ms.length) return `  ${what.padEnd(38)} none shown`;
  return `  ${what.padEnd(38)} n=${String(ms.length).padEnd(5)} p50 ${pct(ms, 50)} ms   p95 ${pct(ms, 95)} ms   max ${Math.max(...ms)} ms`;
}
const events = result.shown.filter((s) => s.resource !== 'report');
console.log(`\nbench:view — lab ${lab}: recorder saw an event → the page showed it (same host clock)`);
console.log(line('every event', events));
console.log(
  line(
    'pod deletions (Terminating, DELETED)',
    events.filter((s) => s.deletion),
  ),
);
console.log(
  line(
    'the report replacing the page',
    result.shown.filter((s) => s.resource === 'report'),
  ),
);
process.exit(result.failed || result.held < result.total ? 1 : 0);
