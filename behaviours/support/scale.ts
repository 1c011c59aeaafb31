// Scaling the seed's StatefulSet and reading what happened to its PVCs: shared by the pvc-retention
// scenario and lab. The scale is a plain patch, not a journaled fault: the namespace goes at the end.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StatefulSet } from '@kubernetes/client-node';
import { EvidenceError } from '../../lib/observe/evidence.ts';
import { until } from '../../lib/observe/waits.ts';
import { waiting, type ScenarioContext } from '../../lib/run/context.ts';

export interface VolumeRow {
  pvc: string;
  uid: string;
  pv: string;
}

function claim(ctx: ScenarioContext, name: string): V1PersistentVolumeClaim | undefined {
  return ctx.rec.get<V1PersistentVolumeClaim>('persistentvolumeclaims', name, ctx.ns);
}

/** The named PVCs that exist now, with their UID and PV. */
export function volumes(ctx: ScenarioContext, pvcs: readonly string[]): VolumeRow[] {
  return pvcs.flatMap((name) => {
    const c = claim(ctx, name);
    return c ? [{ pvc: name, uid: c.metadata!.uid!, pv: c.spec?.volumeName ?? '' }] : [];
  });
}

/** One evidence row per named PVC, also when it is gone: UID, phase, PV and its phase, owner. */
export function pvcRows(ctx: ScenarioContext, pvcs: readonly string[]) {
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
export async function scale(ctx: ScenarioContext, sts: string, replicas: number): Promise<number> {
  const at = Date.now();
  await ctx.kube.apps.patchNamespacedStatefulSet({
    name: sts,
    namespace: ctx.ns,
    body: [{ op: 'replace', path: '/spec/replicas', value: replicas }],
  });
  return at;
}

/**
 * Scales down and waits until the condemned pods (the ordinals from `replicas` up) are gone; the
 * bound follows the pod's termination grace period, one pod at a time (OrderedReady). Returns when
 * the patch was sent and the condemned pods, highest first.
 */
export async function scaleDown(
  ctx: ScenarioContext,
  sts: V1StatefulSet,
  replicas: number,
): Promise<{ at: number; condemned: string[] }> {
  const name = sts.metadata!.name!;
  const from = sts.spec?.replicas ?? 1;
  const condemned = Array.from({ length: from - replicas }, (_, i) => `${name}-${from - 1 - i}`);
  const grace = sts.spec?.template.spec?.terminationGracePeriodSeconds ?? 30;
  const at = await scale(ctx, name, replicas);
  const bound = condemned.length * (grace + 30);
  await waiting(
    ctx,
    until(ctx.rec, () => condemned.every((n) => !ctx.rec.get('pods', n, ctx.ns)), {
      timeout: bound,
      why: `${condemned.join(' then ')} deleted (bound ${condemned.length} × (terminationGracePeriodSeconds ${grace}s + 30s) = ${bound}s: OrderedReady removes one at a time)`,
    }),
  );
  return { at, condemned };
}

/**
 * Starts a rolling update held at `partition` (only ordinals ≥ partition are updated): a changed
 * pod-template annotation is the smallest change that makes a new revision.
 */
export async function startRollout(ctx: ScenarioContext, sts: string, partition: number): Promise<void> {
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
export async function setPartition(ctx: ScenarioContext, sts: string, partition: number): Promise<void> {
  await ctx.kube.apps.patchNamespacedStatefulSet({
    name: sts,
    namespace: ctx.ns,
    body: [{ op: 'replace', path: '/spec/updateStrategy/rollingUpdate/partition', value: partition }],
  });
}
