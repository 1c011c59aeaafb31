// Scaling and rolling out the seed's StatefulSet, and the order its pods changed in, from watch events
// (ordinals, pvc-retention, pvc-protection). A patch is not a journaled fault: the namespace goes at the end.
import type { V1Pod } from '@kubernetes/client-node';
import { creations, deletions, EvidenceError, readyTransitions } from '../../lib/observe/evidence.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { type Bound, times } from '../../lib/cluster/settings.ts';
import { describeEvent, gapFree, Inconclusive } from '../../lib/observe/waits.ts';
import { uidPrefix } from './pods.ts';
import { type RunContext, waitFor } from '../../lib/run/run.ts';

/** Sends a JSON patch to the StatefulSet; returns when it was sent (ms, wall clock). */
async function patchSts(ctx: RunContext, name: string, ...body: object[]): Promise<number> {
  const at = Date.now();
  await ctx.kube.apps.patchNamespacedStatefulSet({ name, namespace: ctx.ns, body });
  return at;
}

const isOf = (sts: string, name = '') => new RegExp(`^${sts}-\\d+$`).test(name);

/** The set's pods as recorded now (terminating ones too), by name. */
export const podsOf = (ctx: RunContext, sts: string) =>
  ctx.rec
    .objects<V1Pod>('pods')
    .filter((p) => isOf(sts, p.metadata?.name))
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));

/** Waits, within `b`, until exactly `count` pods of the set exist, all Ready and none terminating. */
export async function settled(ctx: RunContext, sts: string, count: number, b: Bound, how: string) {
  await waitFor(ctx, `${count} ${sts} pods Ready, none terminating (${how})`, b, () => {
    const all = podsOf(ctx, sts);
    return all.length === count && all.every((p) => !p.metadata?.deletionTimestamp && isPodReady(p));
  });
}

/** What the set's pods did since `t0`, from recorded events; `except`: UIDs never counted as newly Ready. */
export function watched(ctx: RunContext, sts: string, t0: number, except = new Set<string>()) {
  const events = ctx.rec.events.filter((e) => e.resource === 'pods' && e.at >= t0 && isOf(sts, e.name));
  // Terminating: the first event of each pod (by UID) with a deletionTimestamp.
  const marked = events.filter((e) => e.type === 'MODIFIED' && e.object.metadata?.deletionTimestamp);
  const removing = marked.filter((e, i) => marked.findIndex((m) => m.uid === e.uid) === i);
  // A gap in the pods stream inside the window: its events may be a re-list's; noted for the judge.
  let gap: string | undefined;
  try {
    gapFree(ctx.rec, ['pods'], t0);
  } catch (err) {
    gap = (err as Error).message;
  }
  const [added, ready, gone] = [creations(events), readyTransitions(events, t0, except), deletions(events)];
  return { sts, t0, gap, events, except, added, ready, removing, gone };
}
export type Watched = ReturnType<typeof watched>;

/** Scales the set to `count` (≙ kubectl scale sts), waits until `settled`: what its pods did since. */
export async function scaleTo(ctx: RunContext, sts: string, count: number, b: Bound, how: string) {
  const t0 = await patchSts(ctx, sts, { op: 'replace', path: '/spec/replicas', value: count });
  await settled(ctx, sts, count, b, how);
  return watched(ctx, sts, t0);
}

/** Order is proven only by events seen on the live watch, with no gap: a re-list rebuilds them late. */
export function onLiveWatch(w: Watched): void {
  if (w.gap) throw new Inconclusive(`the order of ${w.sts}'s pods: ${w.gap}`);
  const rebuilt = w.events.filter((e) => e.source !== 'watch').map(describeEvent);
  if (rebuilt.length)
    throw new EvidenceError(`pod events not seen on the live watch prove no order: ${rebuilt.join('; ')}`);
}

const LABELS = { added: 'ADDED', ready: 'Ready', removing: 'Terminating', gone: 'DELETED' } as const;
type Kind = keyof typeof LABELS;

/** `watch events, <what>` in the API server's order (resourceVersion breaks a tie within one ms), at in
 * seconds since `t0`; a pod of those `ordinals` without its event is a row 'never'. */
export function eventTable(what: string, w: Watched, kinds: Kind[], ordinals: number[]) {
  const label = (k: Kind) => (k === 'ready' && w.except.size ? 'Ready (new)' : LABELS[k]);
  const seen = kinds
    .flatMap((k) => w[k].map((m) => ({ event: label(k), m })))
    .sort((a, b) => a.m.at - b.m.at || Number(a.m.resourceVersion) - Number(b.m.resourceVersion))
    .map(({ event, m }) => {
      const at = `+${((m.at - w.t0) / 1000).toFixed(2)}s`;
      return { at, event, pod: m.name, uid: uidPrefix(m.uid), resourceVersion: m.resourceVersion };
    });
  const never = kinds.flatMap((k) =>
    ordinals
      .map((i) => `${w.sts}-${i}`)
      .filter((pod) => !w[k].some((m) => m.name === pod))
      .map((pod) => ({ at: 'never', event: label(k), pod, uid: '-', resourceVersion: '-' })),
  );
  return { title: `watch events, ${what}`, rows: [...seen, ...never] };
}

/** Sends a rollout's JSON patch, waits until the pods of those `ordinals` were replaced (a new UID Ready)
 * and the set is settled at its size: what its pods did since the patch. */
export async function rollout(ctx: RunContext, sts: string, ordinals: number[], ...patch: object[]) {
  const expected = ordinals.map((i) => `${sts}-${i}`);
  const uids = new Set(podsOf(ctx, sts).map((p) => p.metadata!.uid!));
  const t0 = await patchSts(ctx, sts, ...patch);
  const b = times(expected.length, ctx.bounds.workloadStart);
  const fresh = (name: string) => watched(ctx, sts, t0, uids).ready.some((m) => m.name === name);
  await waitFor(ctx, `${expected.join(' then ')} recreated and Ready`, b, () => expected.every(fresh));
  await settled(ctx, sts, uids.size, b, 'the rollout done');
  return watched(ctx, sts, t0, uids);
}
