// Scaling and rolling out the seed's StatefulSet, and reading what happened to its pods and PVCs:
// shared by the ordinals and pvc-retention behaviours. The scale is a plain patch, not a journaled
// fault: the namespace goes at the end.
import type {
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1StatefulSet,
} from '@kubernetes/client-node';
import {
  creations,
  deletions,
  EvidenceError,
  readyTransitions,
  type PodMoment,
} from '../../lib/observe/evidence.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import type { RecordedEvent } from '../../lib/observe/recorder.ts';
import { type Bound, times } from '../../lib/cluster/settings.ts';
import { describeEvent, holds, until } from '../../lib/observe/waits.ts';
import { uidPrefix } from './pods.ts';
import { waiting, type RunContext, waitFor } from '../../lib/run/run.ts';

export interface VolumeRow {
  pvc: string;
  uid: string;
  pv: string;
}

function claim(ctx: RunContext, name: string): V1PersistentVolumeClaim | undefined {
  return ctx.rec.get<V1PersistentVolumeClaim>('persistentvolumeclaims', name, ctx.ns);
}

/** The named PVCs that exist now, with their UID and PV. */
export function volumes(ctx: RunContext, pvcs: readonly string[]): VolumeRow[] {
  return pvcs.flatMap((name) => {
    const c = claim(ctx, name);
    return c ? [{ pvc: name, uid: c.metadata!.uid!, pv: c.spec?.volumeName ?? '' }] : [];
  });
}

/** One evidence row per named PVC, also when it is gone: UID, phase, PV and its phase, owner. */
export function pvcRows(ctx: RunContext, pvcs: readonly string[]) {
  return pvcs.map((name) => {
    const c = claim(ctx, name);
    const pv = c?.spec?.volumeName
      ? ctx.rec.get<V1PersistentVolume>('persistentvolumes', c.spec.volumeName)
      : undefined;
    return {
      pvc: name,
      exists: !!c,
      uid: c?.metadata?.uid ?? '-',
      phase: c?.status?.phase ?? '-',
      pv: c?.spec?.volumeName ?? '-',
      pvPhase: pv?.status?.phase ?? '-',
      owner: c?.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`).join(',') || 'none',
    };
  });
}

/** Every PVC of `before` still exists with the same UID and PV: the volume and its data were kept. */
export function assertPvcsKept(before: VolumeRow[], after: VolumeRow[]): void {
  for (const b of before) {
    const a = after.find((v) => v.pvc === b.pvc);
    if (!a || a.uid !== b.uid || a.pv !== b.pv)
      throw new EvidenceError(
        `expected ${b.pvc} kept (uid ${b.uid} -> ${b.pv}), found ${a ? `uid ${a.uid} -> ${a.pv}` : 'no such PVC'}`,
      );
  }
}

/** Patches spec.replicas (≙ kubectl scale sts); returns when the patch was sent (ms, wall clock). */
export async function scale(ctx: RunContext, sts: string, replicas: number): Promise<number> {
  const at = Date.now();
  await ctx.kube.apps.patchNamespacedStatefulSet({
    name: sts,
    namespace: ctx.ns,
    body: [{ op: 'replace', path: '/spec/replicas', value: replicas }],
  });
  return at;
}

/**
 * Scales down and waits until the condemned pods (the ordinals from `replicas` up) are gone, one
 * MySQL stop at a time (OrderedReady). Returns when the patch was sent and the condemned pods,
 * highest first.
 */
export async function scaleDown(
  ctx: RunContext,
  sts: V1StatefulSet,
  replicas: number,
): Promise<{ at: number; condemned: string[] }> {
  const name = sts.metadata!.name!;
  const from = sts.spec?.replicas ?? 1;
  const condemned = Array.from({ length: from - replicas }, (_, i) => `${name}-${from - 1 - i}`);
  const at = await scale(ctx, name, replicas);
  await waitFor(
    ctx,
    `${condemned.join(' then ')} deleted (OrderedReady removes one at a time)`,
    times(condemned.length, ctx.bounds.mysqlStop),
    () => condemned.every((n) => !ctx.rec.get('pods', n, ctx.ns)),
  );
  return { at, condemned };
}

/**
 * Starts a rolling update held at `partition` (only ordinals ≥ partition are updated): a changed
 * pod-template annotation is the smallest change that makes a new revision.
 */
export async function startRollout(ctx: RunContext, sts: string, partition: number): Promise<void> {
  await ctx.kube.apps.patchNamespacedStatefulSet({
    name: sts,
    namespace: ctx.ns,
    body: [
      {
        op: 'replace',
        path: '/spec/updateStrategy',
        value: { type: 'RollingUpdate', rollingUpdate: { partition } },
      },
      {
        op: 'add',
        path: '/spec/template/metadata/annotations',
        value: { 'statefulset-lab/rollout': 'step-1' },
      },
    ],
  });
}

/** Moves the rollout's partition (≙ kubectl patch sts … rollingUpdate.partition). */
export async function setPartition(ctx: RunContext, sts: string, partition: number): Promise<void> {
  await ctx.kube.apps.patchNamespacedStatefulSet({
    name: sts,
    namespace: ctx.ns,
    body: [{ op: 'replace', path: '/spec/updateStrategy/rollingUpdate/partition', value: partition }],
  });
}

// ── The order of a set's pods, from watch events (ordinals) ─────────────────────────────────────

const isOf = (sts: string, name = '') => new RegExp(`^${sts}-\\d+$`).test(name);

/** The set's pods as recorded now (terminating ones too), by name. */
export const podsOf = (ctx: RunContext, sts: string) =>
  ctx.rec
    .objects<V1Pod>('pods')
    .filter((p) => isOf(sts, p.metadata?.name))
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));

/** Exactly `count` pods of the set, all Ready and none terminating. */
const settledNow = (ctx: RunContext, sts: string, count: number) => {
  const all = podsOf(ctx, sts);
  return all.length === count && all.every((p) => !p.metadata?.deletionTimestamp && isPodReady(p));
};

/** Waits until exactly `count` pods of the set exist, all Ready and none terminating, within `b`. */
export async function settled(ctx: RunContext, sts: string, count: number, b: Bound, how: string) {
  await waitFor(ctx, `${count} ${sts} pods Ready (${how})`, b, () => settledNow(ctx, sts, count));
}

/**
 * Watches one pod of the set for the whole window of `b`: undefined when it still has `uid` and is
 * not marked for deletion throughout, else how that broke, with the event that broke it.
 */
export async function untouched(
  ctx: RunContext,
  sts: string,
  pod: string,
  uid: string,
  b: Bound,
  why: string,
) {
  const meta = () => podsOf(ctx, sts).find((p) => p.metadata?.name === pod)?.metadata;
  const kept = () =>
    meta()?.uid === uid && !meta()?.deletionTimestamp ? undefined : `${pod} is being replaced`;
  return waiting(
    ctx,
    holds(ctx.rec, kept, {
      seconds: b.seconds,
      why: `${why} (window ${b.seconds}s: ${b.why})`,
      resources: ['pods'],
    }).then(
      () => undefined,
      (err: Error) => err.message,
    ),
  );
}

/** The first moment each pod (name + uid) was seen with a deletionTimestamp: the start of its removal. */
export function terminations(events: RecordedEvent[]): PodMoment[] {
  const seen = new Set<string>();
  return events
    .filter((e) => {
      if (e.resource !== 'pods' || e.type !== 'MODIFIED' || seen.has(e.uid)) return false;
      if (!(e.object as V1Pod).metadata?.deletionTimestamp) return false;
      seen.add(e.uid);
      return true;
    })
    .map((e) => ({ name: e.name, uid: e.uid, at: e.at, resourceVersion: e.resourceVersion }));
}

/**
 * What the set's pods did since `t0`, from the recorded events. `except`: the UIDs a rollout started
 * from, never counted as newly Ready (an old pod is still Ready in the event that marks it for
 * deletion, and would otherwise pass for its own replacement).
 */
export function watched(ctx: RunContext, sts: string, t0: number, except = new Set<string>()) {
  const events = ctx.rec.events.filter((e) => e.resource === 'pods' && e.at >= t0 && isOf(sts, e.name));
  const ready = readyTransitions(events, t0, except);
  const [removing, gone] = [terminations(events), deletions(events)];
  return { t0, events, replacing: except.size > 0, added: creations(events), ready, removing, gone };
}
export type Watched = ReturnType<typeof watched>;

/** Order is proven only by events seen on the live watch: a re-list rebuilds them at its own time. */
export function onLiveWatch(w: Watched): void {
  const rebuilt = w.events.filter((e) => e.source !== 'watch').map(describeEvent);
  if (rebuilt.length)
    throw new EvidenceError(
      `pod events not seen on the live watch, so their order is no proof: ${rebuilt.join('; ')}`,
    );
}

const LABELS = { added: 'ADDED', ready: 'Ready', removing: 'Terminating', gone: 'DELETED' } as const;

/**
 * The events as a timeline in the API server's order (resourceVersion breaks a tie within one ms),
 * at in seconds since `t0` to 10 ms; an expected pod without its event is a row 'never'.
 */
export function eventTable(title: string, w: Watched, kinds: Array<keyof typeof LABELS>, expected: string[]) {
  const label = (k: keyof typeof LABELS) => (k === 'ready' && w.replacing ? 'Ready (new)' : LABELS[k]);
  const seen = kinds
    .flatMap((k) => w[k].map((m) => ({ event: label(k), m })))
    .sort((a, b) => a.m.at - b.m.at || Number(a.m.resourceVersion) - Number(b.m.resourceVersion))
    .map(({ event, m }) => ({
      at: `+${((m.at - w.t0) / 1000).toFixed(2)}s`,
      event,
      pod: m.name,
      uid: uidPrefix(m.uid),
      resourceVersion: m.resourceVersion,
    }));
  const never = kinds.flatMap((k) =>
    expected
      .filter((pod) => !w[k].some((m) => m.name === pod))
      .map((pod) => ({ at: 'never', event: label(k), pod, uid: '-', resourceVersion: '-' })),
  );
  return { title, rows: [...seen, ...never] };
}

/**
 * Sends a rollout patch and waits until the pods of those `ordinals` were replaced (a new UID
 * Ready) and the set is settled at `replicas`; returns when the patch was sent and the UIDs it
 * started from.
 */
export async function rollout(
  ctx: RunContext,
  sts: string,
  replicas: number,
  patch: () => Promise<void>,
  ordinals: number[],
): Promise<{ t0: number; before: Set<string> }> {
  const expected = ordinals.map((i) => `${sts}-${i}`);
  const before = new Set(podsOf(ctx, sts).map((p) => p.metadata!.uid!));
  const t0 = Date.now();
  await patch();
  const b = ctx.bounds.mysqlStart;
  await waiting(
    ctx,
    until(
      ctx.rec,
      () => {
        const fresh = watched(ctx, sts, t0, before).ready;
        return expected.every((n) => fresh.some((m) => m.name === n)) && settledNow(ctx, sts, replicas);
      },
      {
        timeout: expected.length * b.seconds,
        why: `${expected.join(' then ')} recreated and Ready (bound ${expected.length} × ${b.seconds}s: ${b.why})`,
      },
    ),
  );
  return { t0, before };
}
