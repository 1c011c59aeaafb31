// Turns one scenario's files into what its timeline shows, in wall-clock milliseconds and without
// any drawing: node Ready spans, one segment per pod UID on the node it ran on, PVC phases, fault
// spans, phases and verdicts. Kept apart from svg.ts so what is claimed can be tested on its own.
import type { FaultRecord } from '../faults/faults.ts';
import type { TimelineRow } from './results.ts';
import type { ScenarioData, Verdict } from './data.ts';

export interface Span {
  from: number;
  to: number;
}

/** Ready True/False/Unknown, `absent` while the Node object does not exist, `?` when not recorded. */
export interface ReadySpan extends Span {
  status: string;
  taints?: string;
}

export type PodState = 'pending' | 'running' | 'ready' | 'deleting' | 'ended';

export interface PodSegment extends Span {
  name: string;
  uid: string;
  node?: string;
  /** Each address the pod had, from when it was first seen (a UID rarely changes its IP). */
  ips: Array<{ at: number; ip: string }>;
  states: Array<Span & { state: PodState }>;
  /** False when the pod still existed at the end of the recording. */
  deleted: boolean;
}

export interface NodeLane {
  node: string;
  ready: ReadySpan[];
  pods: PodSegment[];
}

export interface PvcTrack {
  name: string;
  uid: string;
  phases: Array<Span & { phase: string; volume?: string }>;
  boundAt?: number;
  volume?: string;
}

export interface FaultSpan extends Span {
  what: string;
  instant: boolean;
  /** Still in place when the scenario's files were written. */
  open: boolean;
}

export interface ScenarioTimeline extends Span {
  nodes: NodeLane[];
  /** Pods that never got a node (Pending, unschedulable). */
  unscheduled: PodSegment[];
  pvcs: PvcTrack[];
  faults: FaultSpan[];
  phases: Array<{ at: number; text: string }>;
  verdicts: Verdict[];
}

const atOf = (row: TimelineRow) => Date.parse(row.at);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** Groups rows of one resource by UID, in order; a DELETED row closes its UID. */
function byUid(rows: TimelineRow[], resource: string): Map<string, TimelineRow[]> {
  const out = new Map<string, TimelineRow[]>();
  for (const r of rows) {
    if (r.resource !== resource) continue;
    out.set(r.uid, [...(out.get(r.uid) ?? []), r]);
  }
  return out;
}

/** Consecutive spans with the same key become one; each span ends where the next begins. */
function spans<T extends object>(
  points: Array<{ at: number; value: T }>,
  end: number,
  key: (v: T) => string,
): Array<Span & T> {
  const out: Array<Span & T> = [];
  for (const [i, p] of points.entries()) {
    const to = points[i + 1]?.at ?? end;
    const last = out.at(-1);
    if (last && key(last) === key(p.value)) last.to = to;
    else out.push({ ...p.value, from: p.at, to });
  }
  return out;
}

function podState(row: TimelineRow): PodState {
  const s = row.summary;
  if (row.type === 'DELETED') return 'ended';
  if (s.deleting) return 'deleting';
  if (s.phase === 'Succeeded' || s.phase === 'Failed') return 'ended';
  if (s.ready === 'True') return 'ready';
  return s.phase === 'Running' ? 'running' : 'pending';
}

function podSegment(uid: string, rows: TimelineRow[], end: number): PodSegment {
  const first = rows[0]!;
  const deletedRow = rows.find((r) => r.type === 'DELETED');
  // The segment runs from when the pod was seen on its node (scheduling takes a moment) to its deletion.
  const node = rows.map((r) => str(r.summary.node)).find(Boolean);
  const placed = rows.find((r) => str(r.summary.node)) ?? first;
  const from = atOf(placed);
  const to = deletedRow ? atOf(deletedRow) : end;
  const ips: PodSegment['ips'] = [];
  for (const r of rows) {
    const ip = str(r.summary.ip);
    if (ip && ips.at(-1)?.ip !== ip) ips.push({ at: atOf(r), ip });
  }
  const live = rows.filter((r) => r.type !== 'DELETED' && atOf(r) >= from);
  const states = spans(
    live.map((r) => ({ at: atOf(r), value: { state: podState(r) } })),
    to,
    (v) => v.state,
  );
  return { name: first.name, uid, node, from, to, ips, states, deleted: Boolean(deletedRow) };
}

function nodeLane(node: string, rows: TimelineRow[], start: number, end: number): NodeLane {
  const points = rows.map((r) => ({
    at: atOf(r),
    value:
      r.type === 'DELETED'
        ? { status: 'absent' }
        : {
            // No Ready condition in the row (an older timeline, a node just registering): not a guess.
            status: str(r.summary.ready) ?? '?',
            ...(str(r.summary.taints) ? { taints: String(r.summary.taints) } : {}),
          },
  }));
  // A node from the recorder's first List was in that state already when the scenario started.
  if (points[0] && rows[0]?.source === 'list') points[0].at = Math.min(points[0].at, start);
  const ready = spans(points, end, (v) => `${v.status}|${v.taints ?? ''}`);
  return { node, ready, pods: [] };
}

function pvcTrack(uid: string, rows: TimelineRow[], end: number): PvcTrack {
  const deletedRow = rows.find((r) => r.type === 'DELETED');
  const to = deletedRow ? atOf(deletedRow) : end;
  const phases = spans(
    rows
      .filter((r) => r.type !== 'DELETED')
      .map((r) => ({
        at: atOf(r),
        value: {
          phase: str(r.summary.phase) ?? 'Pending',
          ...(str(r.summary.volume) ? { volume: String(r.summary.volume) } : {}),
        },
      })),
    to,
    (v) => `${v.phase}|${v.volume ?? ''}`,
  );
  const bound = phases.find((p) => p.phase === 'Bound');
  return {
    name: rows[0]!.name,
    uid,
    phases,
    ...(bound ? { boundAt: bound.from, volume: bound.volume } : {}),
  };
}

function faultSpan(f: FaultRecord, end: number): FaultSpan {
  const instant = Boolean(f.instant);
  return {
    what: f.what,
    from: f.at,
    to: instant ? f.at : (f.undoneAt ?? end),
    instant,
    open: !instant && f.undoneAt === undefined,
  };
}

/** The span of the scenario: from its start (or first record) to its last record. */
function extent(data: ScenarioData): Span {
  const times = [
    ...data.rows.map(atOf),
    ...data.story.map((s) => s.at),
    ...data.faults.flatMap((f) => [f.at, f.undoneAt ?? f.at]),
    ...(data.meta ? [data.meta.startedAt, data.meta.endedAt, ...data.meta.verdicts.map((v) => v.at)] : []),
  ].filter((t) => Number.isFinite(t));
  if (!times.length) return { from: 0, to: 1 };
  const from = Math.min(...times);
  return { from, to: Math.max(from + 1, ...times) };
}

export function scenarioTimeline(data: ScenarioData): ScenarioTimeline {
  const { from, to } = extent(data);
  const lanes = new Map<string, NodeLane>();
  for (const [, rows] of byUid(data.rows, 'nodes')) {
    const name = rows[0]!.name;
    // A Node deleted and registered again gets a new UID: both belong on the same lane.
    const lane = nodeLane(name, rows, from, to);
    const existing = lanes.get(name);
    if (existing) {
      // The gap between the old object's deletion and the new one's registration stays `absent`.
      existing.ready = [...existing.ready, ...lane.ready].sort((a, b) => a.from - b.from);
      for (const [i, s] of existing.ready.entries()) {
        const next = existing.ready[i + 1];
        if (next && s.to > next.from) s.to = next.from;
      }
    } else lanes.set(name, lane);
  }
  const unscheduled: PodSegment[] = [];
  for (const [uid, rows] of byUid(data.rows, 'pods')) {
    const seg = podSegment(uid, rows, to);
    if (!seg.node) {
      unscheduled.push(seg);
      continue;
    }
    let lane = lanes.get(seg.node);
    if (!lane) lanes.set(seg.node, (lane = { node: seg.node, ready: [], pods: [] }));
    lane.pods.push(seg);
  }
  for (const lane of lanes.values()) lane.pods.sort((a, b) => a.from - b.from);
  return {
    from,
    to,
    nodes: [...lanes.values()].sort((a, b) => a.node.localeCompare(b.node)),
    unscheduled,
    pvcs: [...byUid(data.rows, 'persistentvolumeclaims')].map(([uid, rows]) => pvcTrack(uid, rows, to)),
    faults: data.faults.map((f) => faultSpan(f, to)),
    phases: data.story.filter((s) => s.kind === 'phase').map((s) => ({ at: s.at, text: s.text })),
    verdicts: data.meta?.verdicts ?? [],
  };
}

/** The prefix all node names share up to a dash ("statefulset-lab-"), dropped in labels. */
export function commonNodePrefix(nodes: string[]): string {
  if (nodes.length < 2) return '';
  let prefix = nodes[0]!;
  for (const n of nodes) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('-') + 1);
}
