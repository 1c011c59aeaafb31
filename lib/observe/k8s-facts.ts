// Small readings of Kubernetes objects in the seed's terms, shared by waits and assertions.
import type { V1Node, V1Pod } from '@kubernetes/client-node';

export function isPodReady(pod: V1Pod | undefined): boolean {
  return !!pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

export function nodeReadyStatus(node: V1Node | undefined): string | undefined {
  return node?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

export function ordinalOf(podName: string): number {
  const m = /-(\d+)$/.exec(podName);
  if (!m) throw new Error(`${podName} has no ordinal`);
  return Number(m[1]);
}

export function pvcName(pod: V1Pod): string | undefined {
  return pod.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
}
