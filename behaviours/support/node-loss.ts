// One proof of a node loss, for node-stop and partition: a pod runs on the victim node, the node is
// stopped or cut off, and for a window past the grace period and the toleration the run watches that
// no pod of that name with a new UID appears; then it judges, from the recorded events, that the Node
// turned Ready=Unknown and was tainted unreachable and the pod was evicted (Terminating, still
// "Running" in the API), each within its bound from the live settings.
import { expect } from 'chai';
import type { V1Node, V1PersistentVolume, V1Pod } from '@kubernetes/client-node';
import { $ } from 'zx';
import { LAB_NETWORK } from '../../lib/cluster/paths.ts';
import { deriveBounds, plus } from '../../lib/cluster/settings.ts';
import { worker } from '../../lib/cluster/topology.ts';
import type { Row } from '../../lib/lab/table.ts';
import {
  identityOf,
  lostPodOf,
  noReplacementDuring,
  replaces,
  volumeOf,
} from '../../lib/observe/evidence.ts';
import { isPodReady, nodeReadyStatus, pvcName } from '../../lib/observe/k8s-facts.ts';
import { holds, InvariantBroken } from '../../lib/observe/waits.ts';
import { note, phase } from '../../lib/run/console.ts';
import { createAll, waitFor, waiting, type RunContext } from '../../lib/run/run.ts';
import { nodeRow, pod, podRow, pvc, readyPod, seconds, uidPrefix, pvPrefix } from './pods.ts';
import { sql, startClient } from './mysql.ts';
import { renderSeed } from './seed.ts';
import { step } from '../../lib/behaviour/model.ts';

export const VICTIM = worker(3);
export const OTHER = worker(2);
/** Seconds the pods tolerate the unreachable/not-ready taints (their template, not the cluster default). */
export const TOLERATION = 10;
/** The cluster's loss bounds for these pods: the same arithmetic, with their own toleration in place
 * of the cluster's default (shorter, so the windows are too). */
const lossBounds = (ctx: RunContext) =>
  deriveBounds({ ...ctx.settings, defaultUnreachableToleration: TOLERATION });
export const POD = 'mysql-0';
export const CLAIM = `pvc-${POD}`;
export const ROW = 'written before the node was lost';

export const victimNode = (ctx: RunContext) => ctx.rec.get<V1Node>('nodes', VICTIM);
export const readRow = (ctx: RunContext) =>
  sql(ctx, `${POD}.mysql`, 'SELECT text FROM lab.notes WHERE id = 1');
const unreachable = (n: V1Node) =>
  !!n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');

/** The seed StatefulSet with one replica that prefers the victim node and may move to OTHER. */
export function seedOnVictim(ns: string, storageClass: 'shared' | 'standard') {
  const nodes = { nodeNames: [VICTIM, OTHER], preferNode: VICTIM };
  return renderSeed(ns, { replicas: 1, storageClass, tolerationSeconds: TOLERATION, ...nodes });
}

/** Waits until the victim node is Ready with no taint (back since `since`); returns the seconds since. */
export async function victimBack(ctx: RunContext, since = Date.now(), b = ctx.bounds.nodeReady) {
  const back = () => nodeReadyStatus(victimNode(ctx)) === 'True' && !victimNode(ctx)?.spec?.taints?.length;
  await waitFor(ctx, `${VICTIM} Ready with no taint`, b, back);
  return seconds(since);
}

/** The claim, its class and access mode, its PV and whether that PV is pinned to a node. */
export function volumeRow(ctx: RunContext, claim: string): Row {
  const c = pvc(ctx, claim)?.spec;
  const pv = ctx.rec.get<V1PersistentVolume>('persistentvolumes', c?.volumeName ?? '');
  const affinity = pv && (pv.spec?.nodeAffinity ? 'pinned to a node' : 'none');
  const row = { pvc: claim, class: c?.storageClassName, access: c?.accessModes?.join(',') };
  return { ...row, pv: pvPrefix(c?.volumeName), 'node affinity': affinity };
}

/** mysql-0 on the victim, on the shared class so it may move, and one row written through a client. */
export async function deployOnVictim(ctx: RunContext) {
  await victimBack(ctx); // a previous run's repair may still be booting it
  note(`live settings: ${Object.values(ctx.settings.sources).join('; ')}`);
  phase(`deploy the seed StatefulSet on the shared class, preferring ${VICTIM}`);
  const seed = seedOnVictim(ctx.ns, 'shared');
  await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
  await startClient(ctx, worker(1)); // neither the victim nor where mysql-0 moves: it outlives both
  const p = await waitFor(ctx, `${POD} Ready`, ctx.bounds.mysqlStart, () => readyPod(ctx, POD));
  const table = `CREATE DATABASE lab; CREATE TABLE lab.notes (id INT PRIMARY KEY, text VARCHAR(64))`;
  await sql(ctx, `${POD}.mysql`, `${table}; INSERT INTO lab.notes VALUES (1, '${ROW}')`);
  const read = await readRow(ctx);
  const volume = volumeRow(ctx, CLAIM);
  return {
    tables: [
      { title: 'pods', rows: [podRow(ctx, p, { row: read })] },
      { title: 'volume', rows: [volume] },
    ],
    pod: p,
    read,
    volume,
    vars: { node: p.spec?.nodeName ?? '-', pvc: CLAIM, row: read },
  };
}

export function judgeOnVictim(seen: Awaited<ReturnType<typeof deployOnVictim>>): void {
  expect(seen.pod.spec?.nodeName, `${POD} starts on ${VICTIM}, which it prefers`).to.equal(VICTIM);
  const free = { class: 'shared', access: 'ReadWriteOnce', 'node affinity': 'none' };
  expect(seen.volume, 'a volume free to move: shared, ReadWriteOnce, no node affinity').to.include(free);
  expect(seen.read, 'the row reads back as written').to.equal(ROW);
}

/** A node loss as the watch saw it (wall ms), with the pod and volume it took and the undo. */
export type VictimLoss = Awaited<ReturnType<typeof loseVictim>>;

/**
 * Stops or cuts off the victim under `podName` (moved back onto it first, gracefully, if an earlier
 * loss left it elsewhere: it prefers the victim) and watches the no-replacement window.
 */
export async function loseVictim(ctx: RunContext, fault: 'stop' | 'cut', podName = POD) {
  await victimBack(ctx);
  const b = ctx.bounds;
  const readyAgain = (old?: string, bound = b.mysqlStart) =>
    waitFor(ctx, `${podName} Ready`, bound, () => readyPod(ctx, podName, old));
  let p = await readyAgain();
  if (p.spec?.nodeName !== VICTIM) {
    note(`${podName} runs on ${p.spec?.nodeName}: back to ${VICTIM}  ≙ kubectl delete pod ${podName}`);
    await ctx.faults.deletePod(ctx.ns, podName);
    p = await readyAgain(p.metadata!.uid!, plus(b.mysqlStop, b.mysqlStart));
  }
  if (p.spec?.nodeName !== VICTIM) throw new Error(`${podName} runs on ${p.spec?.nodeName}, not ${VICTIM}`);
  const uid = p.metadata!.uid!;
  const action =
    fault === 'stop' ? `docker stop ${VICTIM}` : `docker network disconnect ${LAB_NETWORK} ${VICTIM}`;
  ctx.involvedNodes.add(VICTIM);
  phase(`${fault} ${VICTIM} (runs ${podName} uid ${uid})  ≙ ${action}`);
  // The clock starts after the fault: it may first wait for another run's node fault to be undone.
  const undo = await (fault === 'stop' ? ctx.faults.stopNode(VICTIM) : ctx.faults.partitionNode(VICTIM));
  const lostAt = Date.now();
  // Absence is watched, not slept: a replacement ends the window early, and judgeLoss shows it.
  const w = lossBounds(ctx).noReplacementWindow;
  // A replacement is any new pod of the same controller, whatever its name (lib/observe/evidence.ts).
  const lostPod = lostPodOf(p);
  const replaced = () => {
    const now = ctx.rec
      .objects<V1Pod>('pods')
      .find((q) => replaces(lostPod, { ...identityOf(q), object: q }));
    return now ? `a replacement ${now.metadata?.name} uid ${now.metadata?.uid}` : undefined;
  };
  const why = `no replacement ${podName} for ${w.seconds}s (${w.why})`;
  const to = await waiting(
    ctx,
    holds(ctx.rec, replaced, { seconds: w.seconds, why, resources: ['pods'] }).then(
      (window) => window.to,
      (err: unknown) => (err instanceof InvariantBroken ? Date.now() : Promise.reject(err)),
    ),
  );
  const since = ctx.rec.events.filter((e) => e.at >= lostAt);
  const first = <T>(resource: string, name: string, test: (o: T) => boolean) =>
    since.find((e) => e.resource === resource && e.name === name && test(e.object as T))?.at;
  const evicted = (q: V1Pod) => q.metadata?.uid === uid && !!q.metadata.deletionTimestamp;
  const volume = volumeOf(pvc(ctx, pvcName(p)!)!);
  const lost = { pod: podName, before: p, uid, volume, action, lostAt, undo, window: { from: lostAt, to } };
  return {
    ...lost,
    unknownAt: first<V1Node>('nodes', VICTIM, (n) => nodeReadyStatus(n) === 'Unknown'),
    taintedAt: first('nodes', VICTIM, unreachable),
    evictedAt: first('pods', podName, evicted),
  };
}

/** A loss's tables (timeline against its bounds, the Node, the pod as the API shows it) and vars. */
export function lossObservation(ctx: RunContext, loss: VictimLoss, extra: Row = {}) {
  const now = pod(ctx, loss.pod);
  // Every UID the name had since the loss: only the old one means no replacement was even created.
  const since = ctx.rec.events.filter(
    (e) => e.resource === 'pods' && e.name === loss.pod && e.at >= loss.lostAt,
  );
  const uids = [...new Set(since.map((e) => e.uid))];
  const { nodeUnknown: u, podEvicted: e, noReplacementWindow: w } = lossBounds(ctx);
  const after = (ms: number | undefined) => (ms === undefined ? '-' : seconds(loss.lostAt, ms));
  const row = (event: string, ms?: number, bound = '') => ({ event, at: `+${after(ms)}s`, bound });
  const deleting = now?.metadata?.deletionTimestamp;
  const terminating = deleting ? `since ${new Date(deleting).toISOString().slice(11, 19)}` : 'no';
  const podNow = { pod: loss.pod, uid: uidPrefix(now?.metadata?.uid), node: now?.spec?.nodeName };
  const state = { 'API phase': now?.status?.phase, terminating, ready: isPodReady(now) };
  const podRowNow = { ...podNow, ...state, 'UIDs since': uids.map(uidPrefix).join(','), ...extra };
  return {
    tables: [
      {
        title: 'timeline',
        rows: [
          row(loss.action, loss.lostAt),
          row(`${VICTIM} Ready=Unknown`, loss.unknownAt, `≤ ${u.seconds}s: ${u.why}`),
          row('taint unreachable:NoExecute', loss.taintedAt, `≤ ${u.seconds}s`),
          row(`${loss.pod} evicted, Terminating`, loss.evictedAt, `≤ ${e.seconds}s; taint + ${TOLERATION}s`),
          row(`no ${loss.pod} with a new UID, since +0.0s`, loss.window.to, `≥ ${w.seconds}s`),
        ],
      },
      { title: 'node', rows: [nodeRow(victimNode(ctx), VICTIM)] },
      { title: loss.pod, rows: [podRowNow] },
    ],
    loss,
    now,
    uids,
    vars: {
      victim: VICTIM,
      unknown: after(loss.unknownAt),
      bound: u.seconds,
      evicted: after(loss.evictedAt),
      toleration: TOLERATION,
      window: after(loss.window.to),
      uids: uids.length,
    },
  };
}

/** What both behaviours assert of a node loss, from the recorded events. */
export function judgeLoss({ loss, now, uids }: ReturnType<typeof lossObservation>, ctx: RunContext): void {
  const { nodeUnknown: u, podEvicted: e } = lossBounds(ctx);
  const within = (ms: number | undefined, what: string, b: typeof u) =>
    expect(
      ms === undefined ? undefined : (ms - loss.lostAt) / 1000,
      `${what} (bound ${b.seconds}s: ${b.why})`,
    ).to.be.within(0, b.seconds);
  within(loss.unknownAt, `${VICTIM} Ready=Unknown, seconds after the loss`, u);
  within(loss.taintedAt, `${VICTIM} tainted unreachable:NoExecute, seconds after the loss`, u);
  within(loss.evictedAt, `${loss.pod} evicted, seconds after the loss`, e);
  expect(loss.evictedAt, `${loss.pod} evicted after the taint`).to.be.at.least(loss.taintedAt!);
  expect(now?.metadata?.uid, `${loss.pod} is still the old pod object`).to.equal(loss.uid);
  expect(now?.metadata?.deletionTimestamp, `${loss.pod} is Terminating`).to.not.equal(undefined);
  expect(uids, `every UID ${loss.pod} had since the loss`).to.deep.equal([loss.uid]);
  noReplacementDuring(ctx.rec.events, lostPodOf(loss.before), loss.window);
}

/** The first step of node-stop and partition: mysql-0 on the victim, on a volume free to move. */
export const deployOnVictimStep = step({
  id: 'deploy',
  title: `deploy the seed StatefulSet on the shared class preferring ${VICTIM}, a client, and a row`,
  act: deployOnVictim,
  judge: judgeOnVictim,
});

/** mariadbd processes running inside a kind node (a node's container sees its pods' processes). */
export async function mysqldOn(node: string): Promise<string[]> {
  // pgrep exits 1 when nothing matches: inside the node that is an answer (none), made exit 0. Any
  // other failure (a stopped node, a failed docker exec, which also exits 1) throws: it must not
  // read as "no mariadbd".
  const r = await $`docker exec ${node} sh -c ${'pgrep -a mariadbd || [ $? -eq 1 ]'}`.quiet();
  return r.stdout.split('\n').filter(Boolean);
}
