// One proof of a node loss, for node-stop and partition: the node running a pod is stopped or cut off;
// for a window past the grace period and the toleration no pod with a new UID replaces it; and the
// events show the Node Ready=Unknown, tainted unreachable and the pod evicted (Terminating, still
// "Running" in the API), each within its bound from the live settings.
import { expect } from 'chai';
import type { V1Lease, V1Node, V1PersistentVolume, V1Pod } from '@kubernetes/client-node';
import { step } from '../../lib/behaviour/model.ts';
import { deriveBounds, plus, type Bound } from '../../lib/cluster/settings.ts';
import { worker } from '../../lib/cluster/topology.ts';
import {
  identityOf,
  lostPodOf,
  noReplacementDuring,
  replaces,
  volumeOf,
} from '../../lib/observe/evidence.ts';
import { isPodReady, nodeReadyStatus, pvcName } from '../../lib/observe/k8s-facts.ts';
import { holds, InvariantBroken } from '../../lib/observe/waits.ts';
import { lookAt, lookCell, type Look } from '../../lib/observe/node-looks.ts';
import { note, phase } from '../../lib/run/console.ts';
import { waitFor, waiting, type RunContext } from '../../lib/run/run.ts';
import { deployWorkload, nodeRow, pod, podRow, pvc, readyPod, seconds, uidPrefix, pvPrefix } from './pods.ts';
import { readMarker, startClient, writeMarker } from './client.ts';
import { claimOf, podName, PROFILE, THE_STS, type WorkloadOptions } from './workload.ts';

export const VICTIM = worker(3);
export const OTHER = worker(2);
/** Seconds the pods tolerate the unreachable/not-ready taints (their template, not the cluster default). */
export const TOLERATION = 10;
export const POD = podName(0);
export const CLAIM = claimOf(POD);
export const ROW = 'written before the node was lost';
/** The profile's server process on a node: pgrep's pattern, and as the tables name it. */
export const MYSQLD = PROFILE.process;
export const SERVER = MYSQLD.replaceAll('|', '/');

export const victimNode = (ctx: RunContext) => ctx.rec.get<V1Node>('nodes', VICTIM);
export const readRow = (ctx: RunContext) => readMarker(ctx, POD);
const unreachableTaint = (n: V1Node | undefined) =>
  n?.spec?.taints?.find((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');

/** The seed StatefulSet with one replica that prefers the victim node and may move to OTHER. */
export function onVictim(storageClass: 'shared' | 'standard'): WorkloadOptions {
  const nodes = { nodeNames: [VICTIM, OTHER], preferNode: VICTIM };
  return { replicas: 1, storageClass, tolerationSeconds: TOLERATION, ...nodes };
}

/** Waits until the victim node is Ready with no taint (back since `since`); returns the seconds since. */
export async function victimBack(ctx: RunContext, since = Date.now(), b = ctx.bounds.nodeReady) {
  const back = () => nodeReadyStatus(victimNode(ctx)) === 'True' && !victimNode(ctx)?.spec?.taints?.length;
  await waitFor(ctx, `${VICTIM} Ready with no taint`, b, back);
  return seconds(since);
}

/** The claim, its class and access mode, its PV and whether that PV is pinned to a node. */
export function volumeRow(ctx: RunContext, claim: string) {
  const c = pvc(ctx, claim)?.spec;
  const pv = ctx.rec.get<V1PersistentVolume>('persistentvolumes', c?.volumeName ?? '');
  const affinity = pv && (pv.spec?.nodeAffinity ? 'pinned to a node' : 'none');
  const row = { pvc: claim, class: c?.storageClassName, access: c?.accessModes?.join(',') };
  return { ...row, pv: pvPrefix(c?.volumeName), 'node affinity': affinity };
}

/** The first step of node-stop and partition: mysql-0 on the victim, on a volume free to move. */
export const deployOnVictimStep = step({
  id: 'deploy',
  title: `deploy ${THE_STS} on the shared class preferring ${VICTIM}, a client, and a row`,
  async act(ctx) {
    await victimBack(ctx); // a previous run's repair may still be booting it
    note(`live settings: ${Object.values(ctx.settings.sources).join('; ')}`);
    phase(`deploy ${THE_STS} on the shared class, preferring ${VICTIM}`);
    await deployWorkload(ctx, onVictim('shared'));
    await startClient(ctx, worker(1)); // neither the victim nor where mysql-0 moves: it outlives both
    const p = await waitFor(ctx, `${POD} Ready`, ctx.bounds.workloadStart, () => readyPod(ctx, POD));
    await writeMarker(ctx, POD, ROW);
    const read = await readRow(ctx);
    const volume = volumeRow(ctx, CLAIM);
    const tables = [
      { title: 'pods', rows: [podRow(ctx, p, { row: read })] },
      { title: 'volume', rows: [volume] },
    ];
    return { tables, volume, vars: { node: p.spec?.nodeName ?? '-', pvc: CLAIM, row: read } };
  },
  judge({ volume, vars }) {
    expect(vars.node, `${POD} starts on ${VICTIM}, which it prefers`).to.equal(VICTIM);
    const free = { class: 'shared', access: 'ReadWriteOnce', 'node affinity': 'none' };
    expect(volume, 'a volume free to move: shared, ReadWriteOnce, no node affinity').to.include(free);
    expect(vars.row, 'the row reads back as written').to.equal(ROW);
  },
});

/** The victim's last heartbeat as the server recorded it (wall ms): the later of its Lease's renewTime
 * and its Ready condition's lastHeartbeatTime. The grace period before Ready=Unknown counts from it. */
async function lastHeartbeat(ctx: RunContext): Promise<number | undefined> {
  const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
  const metadata = { name: VICTIM, namespace: 'kube-node-lease' };
  const lease: V1Lease = await ctx.kube.objects.read({ ...ref, metadata });
  const ready = victimNode(ctx)?.status?.conditions?.find((c) => c.type === 'Ready');
  const times = [lease.spec?.renewTime, ready?.lastHeartbeatTime].filter((t) => t !== undefined);
  return times.length ? Math.max(...times.map((t) => new Date(t).getTime())) : undefined;
}

/** A node loss as the watch saw it (wall ms): its tables and vars, what it took, what the events show. */
export type VictimLoss = Awaited<ReturnType<typeof loseVictim>>;

/** Stops or cuts off the victim under `podName` (moved back onto it first, gracefully, if an earlier
 * loss left it elsewhere), watches the no-replacement window, and shows the timeline, the Node, the pod. */
export async function loseVictim(ctx: RunContext, fault: 'stop' | 'cut', podName = POD) {
  await victimBack(ctx);
  const readyAgain = (old?: string, bound = ctx.bounds.workloadStart) =>
    waitFor(ctx, `${podName} Ready`, bound, () => readyPod(ctx, podName, old));
  let before = await readyAgain();
  if (before.spec?.nodeName !== VICTIM) {
    note(`${podName} runs on ${before.spec?.nodeName}: back to ${VICTIM}  ≙ kubectl delete pod ${podName}`);
    await ctx.faults.deletePod(ctx.ns, podName);
    before = await readyAgain(before.metadata!.uid!, plus(ctx.bounds.workloadStop, ctx.bounds.workloadStart));
  }
  const where = before.spec?.nodeName;
  if (where !== VICTIM) throw new Error(`${podName} runs on ${where}, not ${VICTIM}`);
  const uid = before.metadata!.uid!;
  const action = ctx.faults.provider.command(fault, VICTIM);
  ctx.involvedNodes.add(VICTIM);
  phase(`${fault} ${VICTIM} (runs ${podName} uid ${uid})  ≙ ${action}`);
  // The cluster's arithmetic with the pods' own (shorter) toleration in place of the cluster default.
  const bounds = deriveBounds({ ...ctx.settings, defaultUnreachableToleration: TOLERATION });
  const { nodeUnknown: u, podEvicted: evict, noReplacementWindow: w } = bounds;
  // A cut the API provider cannot end from outside lasts past the window and a second server's start.
  const cut = { seconds: plus(w, ctx.bounds.workloadStart).seconds, watch: MYSQLD };
  // The clock starts after the fault: it may first wait for another run's node fault to be undone.
  const undo = await (fault === 'stop' ? ctx.faults.stopNode(VICTIM) : ctx.faults.partitionNode(VICTIM, cut));
  const lostAt = Date.now();
  // Watched, not slept: a replacement (any new pod of the controller, whatever its name) ends it early.
  const lostPod = lostPodOf(before);
  const replaced = () => {
    const p = ctx.rec.objects<V1Pod>('pods').find((q) => replaces(lostPod, { ...identityOf(q), object: q }));
    return p ? `a replacement ${p.metadata?.name} uid ${p.metadata?.uid}` : undefined;
  };
  const why = `no replacement ${podName} for ${w.seconds}s (${w.why})`;
  const held = holds(ctx.rec, replaced, { seconds: w.seconds, why, resources: ['pods'] });
  const endedEarly = (err: unknown) => (err instanceof InvariantBroken ? Date.now() : Promise.reject(err));
  const to = await waiting(ctx, held).then((window) => window.to, endedEarly);
  const since = ctx.rec.events.filter((e) => e.at >= lostAt);
  const first = <T>(resource: string, name: string, test: (o: T) => boolean) =>
    since.find((e) => e.resource === resource && e.name === name && test(e.object as T))?.at;
  const unknownAt = first<V1Node>('nodes', VICTIM, (n) => nodeReadyStatus(n) === 'Unknown');
  const taintedAt = first<V1Node>('nodes', VICTIM, (n) => !!unreachableTaint(n));
  const evicted = (p: V1Pod) => p.metadata?.uid === uid && !!p.metadata.deletionTimestamp;
  const evictedAt = first('pods', podName, evicted);
  // Lower bounds count from what the server recorded, not from when the provider's stop returned.
  const heartbeatAt = await lastHeartbeat(ctx);
  const taintAdded = unreachableTaint(victimNode(ctx))?.timeAdded;
  const taintAddedAt = taintAdded ? new Date(taintAdded).getTime() : undefined;
  // Every UID the name had since the loss: only the old one means no replacement was even created.
  const podEvents = since.filter((e) => e.resource === 'pods' && e.name === podName);
  const uids = [...new Set(podEvents.map((e) => e.uid))];
  // A cut-off node still runs its pods, so its mariadbd can be counted (a stopped one cannot be asked).
  const mysqld = fault === 'cut' ? await mysqldOn(ctx, VICTIM) : undefined;
  const now = pod(ctx, podName);
  const deleting = now?.metadata?.deletionTimestamp;
  const terminating = deleting ? `since ${new Date(deleting).toISOString().slice(11, 19)}` : 'no';
  const podNow = { pod: podName, uid: uidPrefix(now?.metadata?.uid), node: now?.spec?.nodeName };
  const state = { 'API phase': now?.status?.phase, terminating, ready: isPodReady(now) };
  const mariadbd = mysqld === undefined ? {} : { [`${SERVER} on the node`]: lookCell(mysqld) };
  const history = { 'UIDs since': uids.map(uidPrefix).join(','), ...mariadbd };
  const after = (ms: number | undefined) => (ms === undefined ? '-' : seconds(lostAt, ms));
  const at = (ms?: number) => (ms !== undefined && ms < lostAt ? `${after(ms)}s` : `+${after(ms)}s`);
  const row = (event: string, ms?: number, bound = '') => ({ event, at: at(ms), bound });
  const grace = ctx.settings.nodeMonitorGracePeriod;
  const timeline = [
    row(`last heartbeat the server recorded`, heartbeatAt, 'lease renewal or status post'),
    row(action, lostAt),
    row(`${VICTIM} Ready=Unknown`, unknownAt, `≥ heartbeat + ${grace}s, ≤ ${u.seconds}s: ${u.why}`),
    row('taint unreachable:NoExecute', taintedAt, `≤ ${u.seconds}s`),
    row(`taint's timeAdded (server, whole seconds)`, taintAddedAt),
    row(`${podName} evicted, Terminating`, evictedAt, `≥ timeAdded + ${TOLERATION}s, ≤ ${evict.seconds}s`),
    row(`no ${podName} with a new UID, since +0.0s`, to, `≥ ${w.seconds}s`),
  ];
  const tables = [
    { title: 'timeline', rows: timeline },
    { title: 'node', rows: [nodeRow(victimNode(ctx), VICTIM)] },
    { title: podName, rows: [{ ...podNow, ...state, ...history }] },
  ];
  const times = { unknown: after(unknownAt), evicted: after(evictedAt), window: after(to) };
  const vars = { victim: VICTIM, bound: u.seconds, toleration: TOLERATION, uids: uids.length, ...times };
  const volume = volumeOf(pvc(ctx, pvcName(before)!)!);
  const lost = { pod: podName, before, uid, volume, undo, lostAt, window: { from: lostAt, to } };
  const seen = { unknownAt, taintedAt, evictedAt, heartbeatAt, taintAddedAt, uids, now, mysqld };
  const counted = mysqld === undefined ? vars : { ...vars, mysqld: lookCell(mysqld) };
  return { tables, vars: counted, ...lost, ...seen, bounds };
}

/** What both behaviours assert of a node loss, from the recorded events. */
export function judgeLoss(loss: VictimLoss, ctx: RunContext): void {
  const within = (ms: number | undefined, what: string, b: Bound) => {
    const after = ms === undefined ? undefined : (ms - loss.lostAt) / 1000;
    const bound = `bound ${b.seconds}s: ${b.why}`;
    expect(after, `${what}, seconds after the loss (${bound})`).to.be.within(0, b.seconds);
  };
  within(loss.unknownAt, `${VICTIM} Ready=Unknown`, loss.bounds.nodeUnknown);
  within(loss.taintedAt, `${VICTIM} tainted unreachable:NoExecute`, loss.bounds.nodeUnknown);
  within(loss.evictedAt, `${loss.pod} evicted`, loss.bounds.podEvicted);
  expect(loss.evictedAt, `${loss.pod} evicted after the taint`).to.be.at.least(loss.taintedAt!);
  // Both-sided: not sooner than the live grace period after the last heartbeat the server recorded,
  // nor sooner than the pods' toleration after the taint's timeAdded (the taint manager's clock).
  const grace = ctx.settings.nodeMonitorGracePeriod;
  const sinceHeartbeat = (loss.unknownAt ?? NaN) - (loss.heartbeatAt ?? NaN);
  const heartbeat = `ms from ${VICTIM}'s last recorded heartbeat to Ready=Unknown (live grace ${grace}s)`;
  expect(sinceHeartbeat, heartbeat).to.be.at.least(grace * 1000);
  const sinceTaint = (loss.evictedAt ?? NaN) - (loss.taintAddedAt ?? NaN);
  const tolerated = `ms from the unreachable taint's timeAdded to the eviction (toleration ${TOLERATION}s)`;
  expect(sinceTaint, tolerated).to.be.at.least(TOLERATION * 1000);
  expect(loss.now?.metadata?.uid, `${loss.pod} is still the old pod object`).to.equal(loss.uid);
  expect(loss.now?.metadata?.deletionTimestamp, `${loss.pod} is Terminating`).to.not.equal(undefined);
  expect(loss.uids, `every UID ${loss.pod} had since the loss`).to.deep.equal([loss.uid]);
  noReplacementDuring(ctx.rec.events, lostPodOf(loss.before), loss.window);
}

/** Counts the profile's server processes on a node now, or notes the moment for the node's record. */
export const mysqldOn = (ctx: RunContext, node: string) => lookAt(ctx.faults.provider, node, MYSQLD);

/** A look judged: mariadbd ran then; a look still waiting for the node's record is judged later
 * (the step that settles it), never passed here. */
export function stillRan(l: Look, what: string, judgedLater = false): void {
  if (l.count === undefined && judgedLater) return;
  const at = new Date(l.at).toISOString().slice(11, 23);
  expect(l.count, `${what} (${SERVER} on ${VICTIM} at ${at})`).to.be.above(0);
}
