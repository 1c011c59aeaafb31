// Phase-by-phase console output: what the scenario does, what it waits for, and the evidence.
const t0 = performance.now();
const stamp = () => `+${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s`;

export function phase(text: string): void {
  console.log(`    ${stamp()} ▶ ${text}`);
}

export function note(text: string): void {
  console.log(`    ${stamp()}   ${text}`);
}

export function evidence(
  title: string,
  rows: Array<Record<string, string | number | boolean | undefined>>,
): void {
  console.log(`    ${stamp()}   evidence: ${title}`);
  if (!rows.length) return;
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => '      ' + vals.map((v, i) => v.padEnd(width[i]!)).join('  ');
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c] ?? ''))));
}
