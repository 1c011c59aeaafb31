// Workshop lab mode: `npm run lab` lists the labs, `npm run lab -- <lab>` runs one step by step
// (`--lang ko`, `--no-pause`), `npm run lab -- docs` writes docs/labs/<lab>.md from the labs' text.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLabArgs, UsageError } from '../lib/lab/args.ts';
import { renderLabIndex, renderLabPage } from '../lib/lab/docs.ts';
import { matchSteps, runLab } from '../lib/lab/runner.ts';
import { padCells, renderTable } from '../lib/lab/table.ts';
import { fill, type Lang, type LabText, type UiText } from '../lib/lab/text.ts';
import { REPO_ROOT } from '../lib/cluster/paths.ts';
import { LAB_NAMES, loadTexts, loadUi, type LabName } from '../labs/catalog.ts';

const DOCS_DIR = join(REPO_ROOT, 'docs', 'labs');

function list(texts: LabText[], ui: UiText, lang: Lang): void {
  const u = (k: string, vars?: Record<string, string | number>) => fill(ui[k]![lang], vars);
  console.log(u('listHeader'));
  const width = Math.max(...texts.map((t) => t.name.length));
  for (const t of texts)
    console.log(
      `  ${t.name.padEnd(width)}  ${t.seed.padEnd(7)} ${padCells(u('minutes', { minutes: t.minutes }), 8)} ${t.title[lang]}`,
    );
  console.log(u('listFooter'));
}

/** Writes (or with --check, only compares) every lab's page; returns the pages that differed. */
function docs(texts: LabText[], ui: UiText, check: boolean): string[] {
  const stale: string[] = [];
  const pages: Array<[string, string]> = [
    ...texts.map((t): [string, string] => [`${t.name}.md`, renderLabPage(t, ui)]),
    ['README.md', renderLabIndex(texts)],
  ];
  if (!check) mkdirSync(DOCS_DIR, { recursive: true });
  for (const [file, page] of pages) {
    const path = join(DOCS_DIR, file);
    if (existsSync(path) && readFileSync(path, 'utf8') === page) continue;
    stale.push(path);
    if (!check) writeFileSync(path, page);
  }
  return stale;
}

/**
 * Every lab in workshop order, each in its own process as an attendee would run it (a rehearsal for
 * the facilitator, and CI's `--no-pause` run); prints each lab's wall time and verdict at the end.
 */
function runAll(lang: Lang, pause: boolean): number {
  const rows: Array<{ lab: string; seconds: string; result: string }> = [];
  for (const lab of LAB_NAMES) {
    const t0 = performance.now();
    const args = [process.argv[1]!, lab, '--lang', lang, ...(pause ? [] : ['--no-pause'])];
    const child = spawnSync(process.execPath, args, { stdio: 'inherit' });
    const ok = child.status === 0;
    rows.push({
      lab,
      seconds: ((performance.now() - t0) / 1000).toFixed(0),
      result: ok ? '✔' : `✘ (exit ${child.status ?? child.signal})`,
    });
    if (child.signal === 'SIGINT') break;
  }
  console.log('');
  console.log(renderTable(rows));
  return rows.every((r) => r.result === '✔') && rows.length === LAB_NAMES.length ? 0 : 1;
}

async function main(): Promise<number> {
  // The labs' words (text.yaml) tell the seed's story: its names, its MySQL.
  if (process.env.LAB_PROFILE && process.env.LAB_PROFILE !== 'mysql')
    throw new UsageError(
      `LAB_PROFILE=${process.env.LAB_PROFILE}: the labs show the seed's MySQL only; run another profile's behaviours with npm run scenario -- --profile ${process.env.LAB_PROFILE}`,
    );
  const cmd = parseLabArgs(process.argv.slice(2), LAB_NAMES);
  const ui = loadUi();
  if (cmd.command === 'help') {
    console.log(ui.help![cmd.lang]);
    return 0;
  }
  const texts = loadTexts();
  if (cmd.command === 'list') {
    list(texts, ui, cmd.lang);
    return 0;
  }
  if (cmd.command === 'docs') {
    const stale = docs(texts, ui, cmd.check);
    for (const p of stale) console.log(`${cmd.check ? 'out of date' : 'wrote'} ${p}`);
    if (cmd.check && stale.length) console.log('run `npm run lab -- docs` to write them');
    return cmd.check && stale.length ? 1 : 0;
  }
  if (cmd.lab === 'all') return runAll(cmd.lang, cmd.pause);
  // Only a run needs the steps in code (and with them the cluster client).
  const { BEHAVIOURS } = await import('../behaviours/index.ts');
  const def = BEHAVIOURS[cmd.lab as LabName];
  if (!def)
    throw new Error(`lab ${cmd.lab} has words in labs/${cmd.lab}/text.yaml but no behaviours/${cmd.lab}.ts`);
  const text = texts.find((t) => t.name === cmd.lab)!;
  matchSteps(def, text);
  const result = await runLab(def, text, ui, { lang: cmd.lang, pause: cmd.pause, view: cmd.view });
  return result.failed || result.held < result.total ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`npm run lab: ${err.message}`);
    process.exitCode = 2;
  } else {
    console.error(`npm run lab: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
// The recorder's watches and the journal's handlers keep the event loop alive after a run.
process.exit(process.exitCode);
