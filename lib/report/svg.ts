// Draws one scenario's timeline as inline SVG: a time axis, the phases, the faults, one lane per
// node (its Ready state as a coloured band, its pods below as one bar per UID), the PVCs and the
// verdicts. No script, no external asset: <title> children are the tooltips. Every label is
// escaped; labels get rows of their own so that none is drawn over another.
import { escapeXml as esc } from './results.ts';
import {
  commonNodePrefix,
  type FaultSpan,
  type PodSegment,
  type PodState,
  type ScenarioTimeline,
} from './lanes.ts';

const W = 1200;
const LEFT = 150;
const RIGHT = 16;
const PLOT = W - LEFT - RIGHT;
/** Labels are monospace 11px: about 6.7px a character, so their width is known without a browser. */
const CHAR = 6.7;
const FONT = 'font-family="\'DejaVu Sans Mono\',ui-monospace,monospace" font-size="11"';
/** A white outline under a label, so lines that cross it (verdicts, faults) do not hide it. */
const HALO = 'stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"';
const SANS = 'font-family="\'DejaVu Sans\',system-ui,sans-serif"';

export const READY_COLOURS: Record<string, string> = {
  True: '#cde8d3',
  Unknown: '#f5d27f',
  False: '#ef9d95',
  /** A timeline without the Ready condition (older runs recorded no summary). */
  '?': '#e6e8eb',
};
export const POD_COLOURS: Record<PodState, string> = {
  pending: '#c7d3e6',
  running: '#7ea4d6',
  ready: '#2f68b0',
  deleting: '#d9822b',
  ended: '#9aa0a6',
};
const PVC_COLOURS: Record<string, string> = { Pending: '#c7d3e6', Bound: '#2a9d8f', Lost: '#ef9d95' };
const FAULT = '#c0392b';
const PASS = '#2e7d32';

const textWidth = (text: string) => text.length * CHAR;
const shortUid = (uid: string) => uid.slice(0, 8);
/** A PV is named pvc-<PVC uid>: its first 8 hex digits tell PVs apart. */
const shortVolume = (v: string) => v.replace(/^(pvc-[0-9a-f]{8})[0-9a-f-]+$/, '$1');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Gives each item the first row where it does not touch the previous item's extent. */
export function packRows(items: Array<{ x0: number; x1: number }>, gap = 6): number[] {
  const ends: number[] = [];
  return items.map(({ x0, x1 }) => {
    let row = ends.findIndex((end) => end + gap <= x0);
    if (row < 0) row = ends.push(-Infinity) - 1;
    ends[row] = x1;
    return row;
  });
}

/** A tick step that puts about ten ticks on the axis. */
function tickStep(ms: number): number {
  const steps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600].map((s) => s * 1000);
  return steps.find((s) => ms / s <= 12) ?? 3600_000;
}

class Canvas {
  readonly parts: string[] = [];
  /** Drawn first, so behind everything: the faults' shading across the lanes. */
  readonly behind: string[] = [];
  /** Drawn last, so on top of every line that crosses them (with a halo, they stay readable). */
  readonly labels: string[] = [];
  y = 0;
  readonly t: ScenarioTimeline;
  constructor(t: ScenarioTimeline) {
    this.t = t;
  }
  /** Seconds since the scenario's start, for labels and tooltips. */
  rel(at: number): string {
    return `+${secs(at - this.t.from)}`;
  }
  x(at: number): number {
    const { from, to } = this.t;
    return LEFT + (Math.min(Math.max(at, from), to) - from) * (PLOT / (to - from));
  }
  add(svg: string): void {
    this.parts.push(svg);
  }
  /** A label on the top layer; `tip` repeats its object's tooltip there. */
  label(x: number, y: number, text: string, attrs: string, tip: string): void {
    this.labels.push(
      `<text class="label" x="${x.toFixed(1)}" y="${y}" ${FONT} ${HALO} ${attrs}><title>${esc(tip)}</title>${esc(text)}</text>`,
    );
  }
  /** Wraps whatever `draw` adds in one group (a lane), so it can be found as a whole. */
  group(open: string, draw: () => void): void {
    const start = this.parts.length;
    draw();
    this.parts.splice(start, 0, open);
    this.parts.push('</g>');
  }
  /** A label on the lane's left margin, and a light line under the lane. */
  laneLabel(label: string, height: number, cls: string, full?: string): void {
    this.add(
      `<text class="lane-label ${cls}" x="8" y="${this.y + 14}" ${SANS} font-size="12" font-weight="600">${esc(label)}${full ? `<title>${esc(full)}</title>` : ''}</text>`,
    );
    this.add(
      `<line x1="0" x2="${W}" y1="${this.y + height}" y2="${this.y + height}" stroke="#e2e5e9" stroke-width="1"/>`,
    );
  }
}

/** Where a label starts so that it stays inside the plot, and the extent it then covers. */
function labelBox(x0: number, x1: number, label: string): { tx: number; x0: number; x1: number } {
  const tx = Math.min(x0, W - RIGHT - textWidth(label));
  return { tx, x0: Math.min(x0, tx), x1: Math.max(x1, tx + textWidth(label)) };
}

function podLabel(p: PodSegment): string {
  const ips = p.ips.map((i) => i.ip);
  return [p.name, shortUid(p.uid), ips.length ? ips.join(' → ') : 'no IP'].join(' · ');
}

function podTooltip(c: Canvas, p: PodSegment): string {
  const states = p.states.map((s) => `${s.state} ${c.rel(s.from)}`).join(', ');
  return `pod ${p.name}, uid ${p.uid}, node ${p.node ?? 'none'}, IP ${p.ips.map((i) => i.ip).join(' → ') || 'none'}; ${states}; ${p.deleted ? `deleted ${c.rel(p.to)}` : 'still there at the end'}`;
}

/** Pods of one lane: each UID a bar, its label (name · uid · IP) above it. Returns the height. */
function drawPods(c: Canvas, pods: PodSegment[], top: number): number {
  const ROW = 26;
  const boxes = pods.map((p) => labelBox(c.x(p.from), Math.max(c.x(p.to), c.x(p.from) + 2), podLabel(p)));
  const rows = packRows(boxes);
  pods.forEach((p, i) => {
    const y = top + rows[i]! * ROW;
    const label = podLabel(p);
    const parts = p.states.map((s) => {
      const x = c.x(s.from);
      const w = Math.max(c.x(s.to) - x, 1.5);
      return `<rect class="pod-state ${s.state}" x="${x.toFixed(1)}" y="${y + 14}" width="${w.toFixed(1)}" height="9" fill="${POD_COLOURS[s.state]}"/>`;
    });
    // The moment the pod object went away: what "a new UID" is measured from.
    const end = p.deleted
      ? `<line x1="${c.x(p.to).toFixed(1)}" x2="${c.x(p.to).toFixed(1)}" y1="${y + 11}" y2="${y + 26}" stroke="#333" stroke-width="1.5"/>`
      : '';
    c.add(
      `<g class="pod" data-pod="${esc(p.name)}" data-uid="${esc(p.uid)}" data-ip="${esc(p.ips.map((x) => x.ip).join(' '))}" data-node="${esc(p.node ?? '')}"><title>${esc(podTooltip(c, p))}</title>${parts.join('')}${end}</g>`,
    );
    c.label(boxes[i]!.tx, y + 10, label, 'fill="#1d2733"', podTooltip(c, p));
  });
  return pods.length ? (Math.max(...rows) + 1) * ROW + 4 : 6;
}

function drawAxis(c: Canvas, height: number): void {
  const { from, to } = c.t;
  const step = tickStep(to - from);
  for (let ms = 0; from + ms <= to; ms += step) {
    const x = c.x(from + ms).toFixed(1);
    c.add(
      `<line class="tick" x1="${x}" x2="${x}" y1="18" y2="${height}" stroke="#eef0f3" stroke-width="1"/><text x="${x}" y="13" ${SANS} font-size="11" fill="#5f6b7a" text-anchor="middle">+${ms / 1000}s</text>`,
    );
  }
}

function drawPhases(c: Canvas, phases: ScenarioTimeline['phases']): void {
  const boxes = phases.map((p) => ({ x0: c.x(p.at) - 8, x1: c.x(p.at) + 8 }));
  const rows = packRows(boxes, 1);
  const height = (Math.max(0, ...rows) + 1) * 18 + 4;
  c.laneLabel('phases', height, 'phases');
  phases.forEach((p, i) => {
    const x = c.x(p.at).toFixed(1);
    const y = c.y + 11 + rows[i]! * 18;
    c.add(
      `<g class="phase"><title>${esc(`${i + 1}. ${p.text}`)}</title><circle cx="${x}" cy="${y}" r="8" fill="#39424e"/><text x="${x}" y="${y + 4}" ${SANS} font-size="10" font-weight="700" fill="#fff" text-anchor="middle">${i + 1}</text></g>`,
    );
  });
  c.y += height;
}

function faultLabel(f: FaultSpan, prefix: string): string {
  const what = prefix ? f.what.split(prefix).join('') : f.what;
  return f.open ? `${what} (not undone)` : what;
}

function drawFaults(c: Canvas, faults: FaultSpan[], prefix: string): (bottom: number) => void {
  const ROW = 24;
  // An instant fault's label starts past its ▼; a span's above its bar.
  const boxes = faults.map((f) =>
    f.instant
      ? { ...labelBox(c.x(f.from) + 7, c.x(f.from) + 7, faultLabel(f, prefix)), x0: c.x(f.from) - 6 }
      : labelBox(c.x(f.from), c.x(f.to), faultLabel(f, prefix)),
  );
  const rows = packRows(boxes);
  const height = faults.length ? (Math.max(...rows) + 1) * ROW + 4 : 20;
  c.laneLabel('faults', height, 'faults');
  if (!faults.length)
    c.add(`<text x="${LEFT}" y="${c.y + 14}" ${SANS} font-size="11" fill="#8a94a0">none injected</text>`);
  const top = c.y;
  c.y += height;
  // The marks reach down across every lane: drawn once the lanes' height is known.
  return (bottom: number) => {
    faults.forEach((f, i) => {
      const y = top + rows[i]! * ROW;
      const x0 = c.x(f.from);
      const w = Math.max(c.x(f.to) - x0, 2);
      const tip = `${f.what}: ${c.rel(f.from)}${f.instant ? '' : f.open ? ', still in place at the end' : ` to ${c.rel(f.to)} (undone)`}`;
      const mark = f.instant
        ? `<path d="M${(x0 - 5).toFixed(1)},${y + 13} h10 l-5,8 z" fill="${FAULT}"/><line x1="${x0.toFixed(1)}" x2="${x0.toFixed(1)}" y1="${y + 21}" y2="${bottom}" stroke="${FAULT}" stroke-width="1" stroke-dasharray="3 3" opacity="0.7"/>`
        : `<rect x="${x0.toFixed(1)}" y="${y + 13}" width="${w.toFixed(1)}" height="9" fill="${FAULT}"${f.open ? ' fill-opacity="0.55"' : ''}/>`;
      if (!f.instant)
        c.behind.push(
          `<rect class="fault-shade" x="${x0.toFixed(1)}" y="${y + 22}" width="${w.toFixed(1)}" height="${(bottom - y - 22).toFixed(1)}" fill="${FAULT}" fill-opacity="0.07"/>`,
        );
      c.add(
        `<g class="fault${f.instant ? ' instant' : ''}" data-what="${esc(f.what)}"><title>${esc(tip)}</title>${mark}</g>`,
      );
      c.label(boxes[i]!.tx, y + 10, faultLabel(f, prefix), `fill="${FAULT}"`, tip);
    });
  };
}

function drawNode(c: Canvas, lane: ScenarioTimeline['nodes'][number], prefix: string, hatch: string): void {
  c.group(`<g class="lane node" data-node="${esc(lane.node)}">`, () => drawNodeLane(c, lane, prefix, hatch));
}

function drawNodeLane(
  c: Canvas,
  lane: ScenarioTimeline['nodes'][number],
  prefix: string,
  hatch: string,
): void {
  const top = c.y;
  const BAND = 16;
  for (const s of lane.ready) {
    const x = c.x(s.from);
    const w = Math.max(c.x(s.to) - x, 1);
    const fill = s.status === 'absent' ? `url(#${hatch})` : (READY_COLOURS[s.status] ?? '#ddd');
    const label =
      s.status === 'absent'
        ? 'no Node object'
        : s.status === '?'
          ? 'Ready not recorded'
          : `Ready ${s.status}`;
    const taint = s.taints ? ` · ${s.taints.replace(/node(-role)?\.kubernetes\.io\//g, '')}` : '';
    const text = textWidth(label + taint) + 8 < w ? label + taint : textWidth(label) + 8 < w ? label : '';
    c.add(
      `<g class="ready ${esc(s.status)}"><title>${esc(`${lane.node}: ${label}${s.taints ? `, taints ${s.taints}` : ''}, ${c.rel(s.from)} to ${c.rel(s.to)}`)}</title><rect x="${x.toFixed(1)}" y="${top + 3}" width="${w.toFixed(1)}" height="${BAND}" fill="${fill}"/>${text ? `<text x="${(x + 4).toFixed(1)}" y="${top + 15}" ${FONT} fill="#2b3440">${esc(text)}</text>` : ''}</g>`,
    );
  }
  const podsHeight = drawPods(c, lane.pods, top + BAND + 6);
  // Tall enough for the label and its caption even when no pod ran there.
  const height = Math.max(BAND + 6 + podsHeight, 38);
  const short = prefix && lane.node.startsWith(prefix) ? lane.node.slice(prefix.length) : lane.node;
  c.laneLabel(short, height, 'node', lane.node);
  c.add(
    `<text x="8" y="${top + 28}" ${SANS} font-size="10" fill="#8a94a0">node · ${lane.pods.length} pod UID${lane.pods.length === 1 ? '' : 's'}</text>`,
  );
  c.y += height;
}

function drawUnscheduled(c: Canvas, pods: PodSegment[]): void {
  if (!pods.length) return;
  const height = drawPods(c, pods, c.y + 4) + 4;
  c.laneLabel('no node', height, 'unscheduled', 'pods never scheduled onto a node');
  c.y += height;
}

function drawPvcs(c: Canvas, pvcs: ScenarioTimeline['pvcs']): void {
  if (!pvcs.length) return;
  const ROW = 26;
  const label = (p: (typeof pvcs)[number]) =>
    p.volume ? `${p.name} → ${shortVolume(p.volume)}` : `${p.name} (not bound)`;
  const boxes = pvcs.map((p) => {
    const from = p.phases[0]?.from ?? c.t.from;
    return labelBox(c.x(from), c.x(p.phases.at(-1)?.to ?? from), label(p));
  });
  const rows = packRows(boxes);
  const height = (Math.max(...rows) + 1) * ROW + 4;
  c.laneLabel('PVCs', height, 'pvcs');
  pvcs.forEach((p, i) => {
    const y = c.y + rows[i]! * ROW;
    const bars = p.phases.map((s) => {
      const x = c.x(s.from);
      return `<rect x="${x.toFixed(1)}" y="${y + 14}" width="${Math.max(c.x(s.to) - x, 1.5).toFixed(1)}" height="9" fill="${PVC_COLOURS[s.phase] ?? '#bbb'}"/>`;
    });
    const bound =
      p.boundAt !== undefined
        ? `<path class="bound" d="M${c.x(p.boundAt).toFixed(1)},${y + 12} l6,6.5 l-6,6.5 l-6,-6.5 z" fill="#1b6b61" stroke="#fff" stroke-width="1"/>`
        : '';
    const tip = `${p.name} (uid ${p.uid}): ${p.phases.map((s) => `${s.phase} ${c.rel(s.from)}`).join(', ')}${p.volume ? `; volume ${p.volume}` : ''}`;
    c.add(
      `<g class="pvc" data-pvc="${esc(p.name)}" data-volume="${esc(p.volume ?? '')}"><title>${esc(tip)}</title>${bars.join('')}${bound}</g>`,
    );
    c.label(boxes[i]!.tx, y + 10, label(p), 'fill="#1d2733"', tip);
  });
  c.y += height;
}

function drawVerdicts(c: Canvas, verdicts: ScenarioTimeline['verdicts'], laneTop: number): void {
  const ROW = 18;
  const label = (v: (typeof verdicts)[number]) =>
    `${v.state === 'passed' ? '✓' : v.state === 'failed' ? '✗' : '–'} ${v.title.split(':')[0]!.slice(0, 40)}`;
  // A verdict ends its test: its label reads leftwards from the line, over the test it closes.
  const boxes = verdicts.map((v) => {
    const x = c.x(v.at);
    const tx = Math.max(LEFT, x - 5 - textWidth(label(v)) * 1.1);
    return { tx, x0: tx, x1: Math.max(x, tx + textWidth(label(v)) * 1.1) };
  });
  const rows = packRows(boxes);
  const height = verdicts.length ? (Math.max(...rows) + 1) * ROW + 6 : 20;
  c.laneLabel('verdicts', height, 'verdicts');
  if (!verdicts.length)
    c.add(
      `<text x="${LEFT}" y="${c.y + 14}" ${SANS} font-size="11" fill="#8a94a0">no verdict recorded</text>`,
    );
  verdicts.forEach((v, i) => {
    const colour = v.state === 'passed' ? PASS : v.state === 'failed' ? FAULT : '#8a94a0';
    const x = c.x(v.at).toFixed(1);
    const y = c.y + rows[i]! * ROW;
    const tip = `${v.state}: ${v.title} (${c.rel(v.at)}${v.ms !== undefined ? `, took ${secs(v.ms)}` : ''})${v.message ? `\n${v.message}` : ''}`;
    c.add(
      `<g class="verdict ${esc(v.state)}"><title>${esc(tip)}</title><line x1="${x}" x2="${x}" y1="${laneTop}" y2="${y + 18}" stroke="${colour}" stroke-width="1.5" stroke-dasharray="${v.state === 'passed' ? '0' : '4 2'}" opacity="0.8"/></g>`,
    );
    c.label(boxes[i]!.tx, y + 14, label(v), `font-weight="700" fill="${colour}"`, tip);
  });
  c.y += height;
}

/** The whole timeline of one scenario. `id` keeps pattern ids apart when a page has several. */
export function timelineSvg(t: ScenarioTimeline, id: string): string {
  const c = new Canvas(t);
  const prefix = commonNodePrefix(t.nodes.map((n) => n.node));
  const hatch = `${id}-absent`;
  c.y = 20;
  drawPhases(c, t.phases);
  const laneTop = c.y;
  const markFaults = drawFaults(c, t.faults, prefix);
  for (const lane of t.nodes) drawNode(c, lane, prefix, hatch);
  drawUnscheduled(c, t.unscheduled);
  drawPvcs(c, t.pvcs);
  const bottom = c.y;
  markFaults(bottom);
  drawVerdicts(c, t.verdicts, laneTop);
  const height = Math.ceil(c.y + 4);
  const axis = new Canvas(t);
  drawAxis(axis, bottom);
  const defs = `<defs><pattern id="${esc(hatch)}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eceef1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b9bec6" stroke-width="2"/></pattern></defs>`;
  const summary = `Timeline over ${secs(t.to - t.from)}: ${t.nodes.length} nodes, ${t.nodes.reduce((n, l) => n + l.pods.length, 0)} pod UIDs, ${t.pvcs.length} PVCs, ${t.faults.length} faults, ${t.verdicts.length} verdicts`;
  return `<svg class="timeline" role="img" aria-label="${esc(summary)}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" preserveAspectRatio="xMinYMin meet"><title>${esc(summary)}</title>${defs}<rect width="${W}" height="${height}" fill="#fff"/>${axis.parts.join('')}${c.behind.join('')}${c.parts.join('')}${c.labels.join('')}</svg>`;
}
