// What several labs share: deploying the seed, waiting for pods through the recorder, and the
// compact rows a lab prints (name, UID prefix, IP, node, PVC, PV).
import type {
  KubernetesObject,
  V1Node,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
} from '@kubernetes/client-node';
import { isPodReady, nodeReadyStatus, pvcName } from '../../lib/observe/k8s-facts.ts';
import type { LabContext } from '../../lib/lab/model.ts';
import type { Row } from '../../lib/lab/table.ts';
import { until } from '../../lib/observe/waits.ts';
import { createAll, waiting } from '../../lib/run/context.ts';
import { MYSQL_START_BOUND, sql, startClient } from './mysql.ts';
import {
  logLine,
  mysqldOn,
  OTHER,
  proveNoReplacement,
  seedOnVictim,
  TOLERATION,
  VICTIM,
} from './node-loss.ts';
import { renderSeed, type SeedOptions } from './seed.ts';

export { MYSQL_START_BOUND };

/** The first 8 characters of a UID: enough to tell two pods apart on a slide. */
export const short = (uid: string | undefined) => (uid ? uid.slice(0, 8) : '-');

/** A PV name (pvc-<PVC uid>) cut to its UID prefix, so a row fits a terminal. */
export const shortPv = (pv: string | undefined) =>
  pv && pv !== '-' ? `pvc-${short(pv.replace(/^pvc-/, ''))}…` : undefined;

/** Whether an evidence assertion (lib/evidence.ts, which throws) holds: a verdict, not a failure. */
export function holds(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/** An evidence assertion as a step's verdict: held, or missed with the assertion's message as {why}. */
export function judge(fn: () => void): { held: boolean; vars: { why: string } } {
  try {
    fn();
    return { held: true, vars: { why: '' } };
  } catch (err) {
    return { held: false, vars: { why: err instanceof Error ? err.message : String(err) } };
  }
}

/** Deploys the seed's Secret, headless Service and StatefulSet in the lab's namespace. */
export async function deploySeed(ctx: LabContext, options: SeedOptions): Promise<void> {
  const seed = renderSeed(ctx.ns, options);
  await createAll(ctx, [seed.secret, seed.service, seed.statefulSet] as KubernetesObject[]);
}

export function pod(ctx: LabContext, name: string): V1Pod | undefined {
  return ctx.rec.get<V1Pod>('pods', name, ctx.ns);
}

export function pvc(ctx: LabContext, name: string): V1PersistentVolumeClaim | undefined {
  return ctx.rec.get<V1PersistentVolumeClaim>('persistentvolumeclaims', name, ctx.ns);
}

/** A pod that is Ready and not being deleted; optionally another one than `otherThanUid`. */
export function readyPod(ctx: LabContext, name: string, otherThanUid?: string): V1Pod | undefined {
  const p = pod(ctx, name);
  return p && p.metadata?.uid !== otherThanUid && !p.metadata?.deletionTimestamp && isPodReady(p)
    ? p
    : undefined;
}

/** Waits (on recorded events) until every named pod is Ready. */
export async function allReady(ctx: LabContext, names: string[], bound: number): Promise<V1Pod[]> {
  return waiting(
    ctx,
    until(
      ctx.rec,
      () => (names.every((n) => readyPod(ctx, n)) ? names.map((n) => readyPod(ctx, n)!) : undefined),
      {
        timeout: bound,
        why: `${names.join(', ')} Ready (bound ${bound}s)`,
      },
    ),
  );
}

/** One row per pod: the identity the seed talks about. */
export function podRow(ctx: LabContext, p: V1Pod | undefined, extra: Row = {}): Row {
  const claim = p ? pvcName(p) : undefined;
  const c = claim ? pvc(ctx, claim) : undefined;
  return {
    pod: p?.metadata?.name,
    uid: short(p?.metadata?.uid),
    ip: p?.status?.podIP,
    node: p?.spec?.nodeName,
    pvc: claim,
    pv: shortPv(c?.spec?.volumeName),
    ...extra,
  };
}

export function nodeRow(node: V1Node | undefined, name: string): Row {
  return {
    node: name,
    ready: nodeReadyStatus(node) ?? 'gone',
    taints:
      node?.spec?.taints?.map((t) => `${t.key.replace('node.kubernetes.io/', '')}:${t.effect}`).join(',') ||
      'none',
  };
}

export const seconds = (fromMs: number, toMs = Date.now()) => ((toMs - fromMs) / 1000).toFixed(1);

// ── Node loss (labs node-stop and partition) ────────────────────────────────────────────────────
// Both put mysql-0 on the victim node of scenarios/support/node-loss.ts, on the `shared` class so a
// replacement may run elsewhere, take the node away and prove what the scenarios prove, with
// proveNoReplacement itself; the lab only turns what it saw into tables in the lab's language.

export { logLine, mysqldOn, OTHER, TOLERATION, VICTIM };
export const LOSS_POD = 'mysql-0';
export const LOSS_CLAIM = `pvc-${LOSS_POD}`;
export const LOSS_ROW = 'written before the node was lost';
/** The client pod's node: neither the victim nor where mysql-0 moves, so it outlives both. */
export const CLIENT_NODE = 'statefulset-lab-worker';

export const victimNode = (ctx: LabContext) => ctx.rec.get<V1Node>('nodes', VICTIM);
export const readRow = (ctx: LabContext) =>
  sql(ctx, `${LOSS_POD}.mysql`, 'SELECT text FROM lab.notes WHERE id = 1');

/**
 * Waits until the victim node is Ready (a previous run's repair may still be booting it), deploys
 * the seed on the shared class preferring it, a client pod on CLIENT_NODE, and writes one row.
 */
export async function deployOnVictim(ctx: LabContext): Promise<{ pod: V1Pod; read: string }> {
  const boot = ctx.bounds.nodeReady;
  await waiting(
    ctx,
    until(ctx.rec, () => nodeReadyStatus(victimNode(ctx)) === 'True', {
      timeout: boot.seconds,
      why: `${VICTIM} Ready (bound ${boot.seconds}s: ${boot.why})`,
    }),
  );
  const seed = seedOnVictim(ctx.ns, 'shared');
  await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
  await startClient(ctx, CLIENT_NODE);
  const p = await waiting(
    ctx,
    until(ctx.rec, () => readyPod(ctx, LOSS_POD), {
      timeout: MYSQL_START_BOUND,
      why: `${LOSS_POD} Ready (bound ${MYSQL_START_BOUND}s: first start initialises the datadir)`,
    }),
  );
  if (p.spec?.nodeName !== VICTIM)
    throw new Error(`${LOSS_POD} started on ${p.spec?.nodeName}, not on ${VICTIM} which it prefers`);
  ctx.involvedNodes.add(VICTIM);
  await sql(
    ctx,
    `${LOSS_POD}.mysql`,
    `CREATE DATABASE lab; CREATE TABLE lab.notes (id INT PRIMARY KEY, text VARCHAR(64)); INSERT INTO lab.notes VALUES (1, '${LOSS_ROW}')`,
  );
  return { pod: p, read: await readRow(ctx) };
}

/** The first step of node-stop and partition: mysql-0 on the victim, on a volume free to move. */
export async function deployedOnVictim(ctx: LabContext) {
  const { pod: p, read } = await deployOnVictim(ctx);
  const vol = volumeRow(ctx, LOSS_CLAIM);
  return {
    tables: [
      { title: 'pods', rows: [podRow(ctx, p, { row: read })] },
      { title: 'volume', rows: [vol] },
    ],
    pod: p,
    node: p.spec?.nodeName,
    read,
    pinned: vol['node affinity'] !== 'none',
    vars: { node: p.spec?.nodeName ?? '-', pvc: LOSS_CLAIM, row: read },
  };
}

export const onVictimHeld = ({ node, read, pinned }: { node?: string; read: string; pinned: boolean }) => ({
  held: node === VICTIM && read === LOSS_ROW && !pinned,
});

/** The claim, its class and access mode, its PV and whether that PV is pinned to a node. */
export function volumeRow(ctx: LabContext, claim: string): Row {
  const c = pvc(ctx, claim);
  const name = c?.spec?.volumeName;
  const pv = name ? ctx.rec.get<V1PersistentVolume>('persistentvolumes', name) : undefined;
  return {
    pvc: claim,
    class: c?.spec?.storageClassName,
    access: c?.spec?.accessModes?.join(','),
    pv: shortPv(name),
    'node affinity': pv ? (pv.spec?.nodeAffinity ? 'pinned to a node' : 'none') : undefined,
  };
}

/** Taints the node lifecycle controller sets on a node it cannot hear, and lifts once it is Ready. */
const LOSS_TAINTS = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'];

/** Waits until the victim node, started or reconnected at `since`, is Ready and untainted; returns the seconds. */
export async function victimBack(ctx: LabContext, since: number): Promise<string> {
  const bound = ctx.bounds.nodeReady;
  await waiting(
    ctx,
    until(
      ctx.rec,
      () => {
        const n = victimNode(ctx);
        return nodeReadyStatus(n) === 'True' && !n?.spec?.taints?.some((t) => LOSS_TAINTS.includes(t.key));
      },
      {
        timeout: bound.seconds,
        why: `${VICTIM} Ready and untainted (bound ${bound.seconds}s: ${bound.why})`,
      },
    ),
  );
  return seconds(since);
}

const unreachable = (n: V1Node | undefined) =>
  !!n?.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');

/** What a lab saw while the victim node was gone (wall ms). */
export interface VictimLoss {
  uid: string;
  lostAt: number;
  unknownAt: number;
  taintedAt?: number;
  evictedAt: number;
  window: { from: number; to: number };
}

/**
 * The scenarios' proof after the victim node is lost at `lostAt`: Ready=Unknown, unreachable taint,
 * mysql-0 evicted (Terminating) and no mysql-0 with another UID for a window past the toleration.
 */
export async function proveVictimLoss(ctx: LabContext, uid: string, lostAt: number): Promise<VictimLoss> {
  const seen = await proveNoReplacement(ctx, LOSS_POD, uid, lostAt, () => {});
  const taintedAt = ctx.rec.events.find(
    (e) => e.resource === 'nodes' && e.name === VICTIM && e.at >= lostAt && unreachable(e.object as V1Node),
  )?.at;
  return { uid, lostAt, taintedAt, ...seen };
}

/**
 * The tables of a node loss: the timeline against the bounds derived from the live settings, the
 * Node, and mysql-0 as the API shows it; with the vars both labs' sentences use.
 */
export function lossObservation(ctx: LabContext, loss: VictimLoss, action: string, extra: Row = {}) {
  const s = ctx.settings;
  const grace = s.nodeMonitorGracePeriod;
  const period = s.nodeMonitorPeriod;
  const lease = s.nodeLeaseDurationSeconds;
  const bound = grace + period + lease;
  const at = (ms: number | undefined) => (ms === undefined ? '-' : `+${seconds(loss.lostAt, ms)}s`);
  const timeline: Row[] = [
    { event: action, at: '+0.0s', 'bound (live settings)': '' },
    {
      event: `${VICTIM} Ready=Unknown`,
      at: at(loss.unknownAt),
      'bound (live settings)': `≤ ${bound}s = grace ${grace}s + monitor period ${period}s + lease ${lease}s`,
    },
    { event: 'taint unreachable:NoExecute', at: at(loss.taintedAt), 'bound (live settings)': '' },
    {
      event: `${LOSS_POD} evicted → Terminating`,
      at: at(loss.evictedAt),
      'bound (live settings)': `toleration ${TOLERATION}s (pod template) after the taint`,
    },
    {
      event: `no ${LOSS_POD} with a new UID`,
      at: `${at(loss.window.from)} … ${at(loss.window.to)}`,
      'bound (live settings)': '',
    },
  ];
  const now = pod(ctx, LOSS_POD);
  // Every UID the name had since the loss: only the old one means no replacement was even created.
  const uids = [
    ...new Set(
      ctx.rec.events
        .filter((e) => e.resource === 'pods' && e.name === LOSS_POD && e.at >= loss.lostAt)
        .map((e) => e.uid),
    ),
  ];
  const podNow: Row = {
    pod: LOSS_POD,
    uid: short(now?.metadata?.uid),
    node: now?.spec?.nodeName,
    'API phase': now?.status?.phase,
    terminating: now?.metadata?.deletionTimestamp ? 'yes' : 'no',
    ready: isPodReady(now),
    'UIDs since': uids.map(short).join(','),
    ...extra,
  };
  return {
    tables: [
      { title: 'timeline', rows: timeline },
      { title: 'node', rows: [nodeRow(victimNode(ctx), VICTIM)] },
      { title: LOSS_POD, rows: [podNow] },
    ],
    held:
      loss.unknownAt - loss.lostAt <= bound * 1000 &&
      loss.taintedAt !== undefined &&
      now?.metadata?.uid === loss.uid &&
      !!now.metadata.deletionTimestamp &&
      uids.length === 1 &&
      uids[0] === loss.uid,
    vars: {
      victim: VICTIM,
      unknown: seconds(loss.lostAt, loss.unknownAt),
      bound,
      grace,
      period,
      lease,
      evicted: seconds(loss.lostAt, loss.evictedAt),
      toleration: TOLERATION,
      window: seconds(loss.window.from, loss.window.to),
      uids: uids.length,
    },
  };
}
