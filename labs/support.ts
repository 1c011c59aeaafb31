// What several labs share: deploying the seed, waiting for pods through the recorder, and the
// compact rows a lab prints (name, UID prefix, IP, node, PVC, PV).
import type { KubernetesObject, V1Node, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { isPodReady, nodeReadyStatus, pvcName } from '../lib/k8s-facts.ts';
import type { LabContext } from '../lib/lab/model.ts';
import type { Row } from '../lib/lab/table.ts';
import { until } from '../lib/waits.ts';
import { createAll, waiting } from '../scenarios/support/context.ts';
import { MYSQL_START_BOUND } from '../scenarios/support/mysql.ts';
import { renderSeed, type SeedOptions } from '../scenarios/support/seed.ts';

export { MYSQL_START_BOUND };

/** The first 8 characters of a UID: enough to tell two pods apart on a slide. */
export const short = (uid: string | undefined) => (uid ? uid.slice(0, 8) : '-');

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
    pv: c?.spec?.volumeName ? `pvc-${short(c.spec.volumeName.replace(/^pvc-/, ''))}…` : undefined,
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
