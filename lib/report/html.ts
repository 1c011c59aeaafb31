// The run report: one self-contained HTML page (inline CSS and SVG, no script, no external URL)
// built from the files a run leaves in artifacts/<run>/ — per scenario its verdicts, timeline,
// story with the evidence tables, and the diagnostics bundle when it failed. Every text is escaped.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvidenceRow, StoryEntry } from './data.ts';
import { escapeXml as esc } from './results.ts';
import { FILES, readRun, type RunData, type ScenarioData, type Verdict } from './data.ts';
import { scenarioTimeline } from './lanes.ts';
import { POD_COLOURS, READY_COLOURS, timelineSvg } from './svg.ts';

type Outcome = 'passed' | 'failed' | 'unknown';

export function outcomeOf(s: ScenarioData): Outcome {
  const v = s.meta?.verdicts ?? [];
  if (v.some((x) => x.state === 'failed')) return 'failed';
  return v.some((x) => x.state === 'passed') ? 'passed' : 'unknown';
}

const href = (...parts: string[]) => parts.map(encodeURIComponent).join('/');
const clock = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export const REPORT_CSS = `
body{font:14px/1.45 'DejaVu Sans',system-ui,sans-serif;color:#1d2733;margin:0;background:#f4f6f8}
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:0 0 6px}h3{font-size:15px;margin:18px 0 6px}
a{color:#2f68b0}
section,header{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:14px 16px;margin:14px 0}
section.failed{border-left:6px solid #c0392b}section.passed{border-left:6px solid #2e7d32}section.unknown{border-left:6px solid #8a94a0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;color:#fff;vertical-align:2px}
.badge.passed{background:#2e7d32}.badge.failed{background:#c0392b}.badge.unknown,.badge.pending{background:#8a94a0}
.meta{color:#5f6b7a;margin:2px 0 8px}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0 8px}
th,td{border:1px solid #dde1e6;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
table.evidence td{font-family:'DejaVu Sans Mono',ui-monospace,monospace;font-size:11.5px;white-space:nowrap}
table.evidence td.long{white-space:normal;overflow-wrap:anywhere;min-width:12ch}
.scroll{overflow-x:auto}
svg.timeline{display:block;max-width:100%;height:auto;border:1px solid #e2e5e9;border-radius:4px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:#5f6b7a;margin:6px 0 0}
.sw{display:inline-block;width:14px;height:9px;margin-right:4px;vertical-align:0;border:1px solid rgba(0,0,0,.15)}
ol.story{padding-left:0;list-style:none;margin:0}
ol.story li{margin:3px 0}ol.story .t{display:inline-block;width:64px;color:#8a94a0;font-family:'DejaVu Sans Mono',ui-monospace,monospace;font-size:12px}
ol.story .phase{font-weight:700}ol.story .num{display:inline-block;min-width:18px;height:18px;border-radius:9px;background:#39424e;color:#fff;font-size:11px;text-align:center;line-height:18px;margin-right:6px}
ol.story .evidence-title{font-weight:600}
.verdicts li.failed{color:#c0392b}.verdicts li.passed{color:#2e7d32}
pre{white-space:pre-wrap;background:#fbeaea;border:1px solid #f0c7c2;padding:6px 8px;font-size:12px;margin:4px 0}
`;

// Short values (names, IPs) never wrap; UIDs and volume names may, so a wide table still fits.
const cell = (text: string) => `<td${text.length > 24 ? ' class="long"' : ''}>${esc(text)}</td>`;

function table(rows: EvidenceRow[], cls: string): string {
  // The columns of every row, in first-seen order: rows may differ in what they carry.
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const head = `<tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${cols.map((c) => cell(String(r[c] ?? ''))).join('')}</tr>`).join('');
  return `<div class="scroll"><table class="${cls}">${head}${body}</table></div>`;
}

function legend(): string {
  const sw = (colour: string, text: string) =>
    `<span><i class="sw" style="background:${colour}"></i>${esc(text)}</span>`;
  return `<div class="legend">${[
    sw(READY_COLOURS.True!, 'node Ready True'),
    sw(READY_COLOURS.Unknown!, 'Ready Unknown'),
    sw(READY_COLOURS.False!, 'Ready False'),
    sw('#d5d9de', 'no Node object'),
    sw(POD_COLOURS.pending, 'pod Pending'),
    sw(POD_COLOURS.running, 'Running, not Ready'),
    sw(POD_COLOURS.ready, 'Ready'),
    sw(POD_COLOURS.deleting, 'Terminating'),
    sw('#2a9d8f', 'PVC Bound (◆ when bound)'),
    sw('#c0392b', 'fault (▼ instant, bar: injected → undone)'),
  ].join('')}<span>label: pod · UID prefix · IP; ┃ pod object deleted</span></div>`;
}

function story(entries: StoryEntry[], from: number): string {
  let n = 0;
  const items = entries.map((e) => {
    const t = `<span class="t">+${((e.at - from) / 1000).toFixed(1)}s</span>`;
    if (e.kind === 'evidence')
      return `<li class="evidence">${t}<span class="evidence-title">evidence: ${esc(e.text)}</span>${e.rows.length ? table(e.rows, 'evidence') : ''}</li>`;
    if (e.kind === 'phase') return `<li class="phase">${t}<span class="num">${++n}</span>${esc(e.text)}</li>`;
    return `<li class="note">${t}${esc(e.text)}</li>`;
  });
  return `<ol class="story">${items.join('')}</ol>`;
}

function verdictItems(verdicts: Verdict[]): string {
  return verdicts
    .map(
      (v) =>
        `<li class="${esc(v.state)}">${v.state === 'passed' ? '✓' : v.state === 'failed' ? '✗' : '–'} ${esc(v.title)}${v.ms !== undefined ? ` <span class="meta">(${secs(v.ms)})</span>` : ''}${v.message ? `<pre>${esc(v.message)}</pre>` : ''}</li>`,
    )
    .join('');
}

/** The live view's picture of a run in progress: the report's timeline, its legend and the verdicts so far. */
export function liveSection(s: ScenarioData): string {
  const verdicts = verdictItems(s.meta?.verdicts ?? []);
  return `${timelineSvg(scenarioTimeline(s), 'live')}${legend()}<ul class="verdicts">${verdicts || '<li class="meta">no verdict yet</li>'}</ul>`;
}

function scenarioSection(s: ScenarioData, index: number): string {
  const outcome = outcomeOf(s);
  const t = scenarioTimeline(s);
  const meta = s.meta;
  const verdicts = verdictItems(meta?.verdicts ?? []);
  const own = s.files.map((f) => `<a href="${href(s.dir, f)}">${esc(f)}</a>`).join(' · ') || 'none';
  const diagnostics = s.diagnostics.length
    ? `<h3>Diagnostics bundle</h3><ul class="diagnostics">${s.diagnostics.map((f) => `<li><a href="${href(s.dir, f)}">${esc(f)}</a></li>`).join('')}</ul>`
    : '';
  const evidence = s.story.filter((e) => e.kind === 'evidence').length;
  return `<section id="${esc(`scenario-${s.dir}`)}" class="scenario ${outcome}" data-scenario="${esc(s.dir)}">
<h2><span class="badge ${outcome}">${outcome.toUpperCase()}</span> ${esc(s.dir)}</h2>
<p class="meta">${meta ? `namespace ${esc(meta.namespace)} · ${esc(clock(meta.startedAt))} · ${secs(meta.endedAt - meta.startedAt)}` : 'no scenario.json (an older or interrupted run)'} · files: ${own}</p>
<ul class="verdicts">${verdicts || '<li>no verdict recorded</li>'}</ul>
${s.legacy ? '<p class="meta">This timeline was recorded before rows carried summaries: it shows when objects existed, not their node, IP, phase or Ready state.</p>' : ''}
${diagnostics}
<h3>Timeline</h3>
${timelineSvg(t, `s${index}`)}
${legend()}
<h3>Story and evidence (${evidence} table${evidence === 1 ? '' : 's'})</h3>
${s.story.length ? story(s.story, t.from) : '<p class="meta">no story recorded</p>'}
</section>`;
}

function summary(run: RunData): string {
  const rows = run.scenarios
    .map((s) => {
      const o = outcomeOf(s);
      const v = s.meta?.verdicts ?? [];
      return `<tr><td><a href="#${esc(`scenario-${s.dir}`)}">${esc(s.dir)}</a></td><td><span class="badge ${o}">${o}</span></td><td>${v.filter((x) => x.state === 'passed').length}/${v.length}</td><td>${s.meta ? secs(s.meta.endedAt - s.meta.startedAt) : ''}</td><td>${esc(s.faults.map((f) => f.what).join(', '))}</td></tr>`;
    })
    .join('');
  return `<table class="summary"><tr><th>scenario</th><th>verdict</th><th>tests passed</th><th>time</th><th>faults injected</th></tr>${rows}</table>`;
}

/** Every test and hook result mocha reported (results.json), failures first: it also holds
 * failures outside any scenario, such as a root hook. */
function allResults(run: RunData): string {
  if (!run.results.length) return '';
  const rank = { failed: 0, skipped: 1, passed: 2 } as const;
  const rows = [...run.results]
    .sort((a, b) => rank[a.state] - rank[b.state])
    .map(
      (c) =>
        `<tr><td>${esc(c.suite)}</td><td>${esc(c.name)}</td><td><span class="badge ${c.state === 'skipped' ? 'pending' : c.state}">${c.state}</span></td><td>${c.seconds.toFixed(1)} s</td><td>${c.failure ? esc(c.failure.message) : ''}</td></tr>`,
    )
    .join('');
  return `<section><h2>All results</h2><div class="scroll"><table class="results"><tr><th>suite</th><th>test</th><th>state</th><th>time</th><th>failure</th></tr>${rows}</table></div></section>`;
}

export function reportHtml(run: RunData): string {
  const outcomes = run.scenarios.map(outcomeOf);
  const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
  const tests = run.results.length
    ? ` · tests: ${run.results.filter((r) => r.state === 'passed').length} passed, ${run.results.filter((r) => r.state === 'failed').length} failed`
    : '';
  const title = `statefulset-lab run ${run.run}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${REPORT_CSS}</style></head>
<body><main>
<header><h1>${esc(title)}</h1>
<p class="meta">${run.scenarios.length} scenario${run.scenarios.length === 1 ? '' : 's'}: ${count('passed')} passed, ${count('failed')} failed${count('unknown') ? `, ${count('unknown')} without verdict` : ''}${tests}${run.files.map((f) => ` · <a href="${href(f)}">${esc(f)}</a>`).join('')}</p>
${summary(run)}
</header>
${run.scenarios.map(scenarioSection).join('\n')}
${allResults(run)}
</main></body></html>
`;
}

/** Reads artifacts/<run>/ and writes its report.html; returns the file's path. */
export function writeReport(runDir: string): string {
  const file = join(runDir, FILES.report);
  writeFileSync(file, reportHtml(readRun(runDir)));
  return file;
}
