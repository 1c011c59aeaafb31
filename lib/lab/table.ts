// Compact tables for a terminal. Korean (and other East Asian wide) characters take two columns, so
// widths are counted in terminal cells, not in string length, or the columns would not line up.
export type Row = Record<string, string | number | boolean | undefined>;

/** Terminal cells a character takes: 2 for Hangul, CJK and full-width forms, else 1. */
function cells(ch: number): number {
  return (ch >= 0x1100 && ch <= 0x115f) ||
    (ch >= 0x2e80 && ch <= 0xa4cf) ||
    (ch >= 0xac00 && ch <= 0xd7a3) ||
    (ch >= 0xf900 && ch <= 0xfaff) ||
    (ch >= 0xfe30 && ch <= 0xfe4f) ||
    (ch >= 0xff00 && ch <= 0xff60) ||
    (ch >= 0xffe0 && ch <= 0xffe6)
    ? 2
    : 1;
}

export function displayWidth(s: string): number {
  let w = 0;
  for (const c of s) w += cells(c.codePointAt(0)!);
  return w;
}

export function padCells(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

/** Rows as aligned columns under a header line; the columns are the first row's keys. */
export function renderTable(rows: Row[], indent = '  '): string {
  if (!rows.length) return `${indent}(none)`;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const text = (v: Row[string]) => (v === undefined || v === '' ? '-' : String(v));
  const widths = cols.map((c) => Math.max(displayWidth(c), ...rows.map((r) => displayWidth(text(r[c])))));
  const line = (vals: string[]) =>
    (indent + vals.map((v, i) => (i === vals.length - 1 ? v : padCells(v, widths[i]!))).join('  ')).trimEnd();
  return [line(cols), ...rows.map((r) => line(cols.map((c) => text(r[c]))))].join('\n');
}

/**
 * Word-wraps text to `width` terminal cells. `lead` starts the first line as it is (e.g. an aligned
 * label); the following lines start with `hang`.
 */
export function wrap(text: string, width: number, hang = '', lead = ''): string {
  const out: string[] = [];
  let line = lead;
  let fresh = true;
  for (const para of text.split('\n')) {
    if (!fresh) {
      out.push(line);
      line = hang;
    }
    let empty = true;
    for (const word of para.split(/ +/)) {
      const candidate = empty ? line + word : `${line} ${word}`;
      if (!empty && displayWidth(candidate) > width) {
        out.push(line);
        line = hang + word;
      } else line = candidate;
      empty = false;
    }
    fresh = false;
  }
  out.push(line);
  return out.join('\n');
}
