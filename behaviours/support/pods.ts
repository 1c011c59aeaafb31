// What most behaviours share: deploying the profile's workload, its pods and claims as recorded, and the compact
// rows they show (name, UID prefix, IP, node, PVC, PV).
import type { V1Node, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { isPodReady, nodeReadyStatus, pvcName } from '../../lib/observe/k8s-facts.ts';
import type { Row } from '../../lib/lab/table.ts';
import { createAll, type RunContext } from '../../lib/run/run.ts';
import { renderWorkload, type WorkloadOptions } from './workload.ts';

/** The first 8 characters of a UID: enough to tell two pods apart on a slide. */
export const uidPrefix = (uid: string | undefined) => (uid ? uid.slice(0, 8) : '-');

/** A PV name (pvc-<PVC uid>) cut to its UID prefix, so a row fits a terminal. */
export const pvPrefix = (pv: string | undefined) =>
  pv && pv !== '-' ? `pvc-${uidPrefix(pv.replace(/^pvc-/, ''))}…` : undefined;

export const seconds = (fromMs: number, toMs = Date.now()) => ((toMs - fromMs) / 1000).toFixed(1);

/** Deploys the profile's objects (its headless Service and StatefulSet among them) in the lab's namespace. */
export async function deployWorkload(ctx: RunContext, options: WorkloadOptions): Promise<void> {
  await createAll(ctx, renderWorkload(ctx.ns, options).objects);
}

export const pod = (ctx: RunContext, name: string) => ctx.rec.get<V1Pod>('pods', name, ctx.ns);
export const pvc = (ctx: RunContext, name: string) =>
  ctx.rec.get<V1PersistentVolumeClaim>('persistentvolumeclaims', name, ctx.ns);

/** A pod that is Ready and not being deleted; optionally another one than `otherThanUid`. */
export function readyPod(ctx: RunContext, name: string, otherThanUid?: string): V1Pod | undefined {
  const p = pod(ctx, name);
  const fresh = p?.metadata?.uid !== otherThanUid && !p?.metadata?.deletionTimestamp;
  return fresh && isPodReady(p) ? p : undefined;
}

/** One row per pod: the identity the seed talks about. */
export function podRow(ctx: RunContext, p: V1Pod | undefined, extra: Row = {}): Row {
  const claim = p && pvcName(p);
  return {
    pod: p?.metadata?.name,
    uid: uidPrefix(p?.metadata?.uid),
    ip: p?.status?.podIP,
    node: p?.spec?.nodeName,
    pvc: claim,
    pv: pvPrefix(claim && pvc(ctx, claim)?.spec?.volumeName),
    ...extra,
  };
}

export function nodeRow(node: V1Node | undefined, name: string): Row {
  const taints = node?.spec?.taints?.map((t) => `${t.key.replace('node.kubernetes.io/', '')}:${t.effect}`);
  return { node: name, ready: nodeReadyStatus(node) ?? 'gone', taints: taints?.join(',') || 'none' };
}
