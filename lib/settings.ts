// The cluster's live failure-detection settings, read from the running control plane (static pod
// flags) and a kubelet's /configz, falling back to Kubernetes 1.33's defaults. Scenario bounds are
// derived from these and printed with how they were derived.
import type { Kube } from './kube.ts';
import { CLUSTER_NAME } from './paths.ts';

export interface LiveSettings {
  nodeMonitorGracePeriod: number;
  nodeMonitorPeriod: number;
  defaultUnreachableToleration: number;
  defaultNotReadyToleration: number;
  nodeStatusUpdateFrequency: number;
  nodeLeaseDurationSeconds: number;
  /** Where each value came from, for the printed explanation. */
  sources: Record<string, string>;
}

export function parseDuration(value: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  let m: RegExpExecArray | null;
  let matched = '';
  while ((m = re.exec(value))) {
    total += Number(m[1]) * { h: 3600, m: 60, s: 1, ms: 0.001 }[m[2] as 'h' | 'm' | 's' | 'ms'];
    matched += m[0];
  }
  if (matched !== value) {
    if (/^\d+$/.test(value)) return Number(value);
    throw new Error(`cannot read duration "${value}"`);
  }
  return total;
}

export function flagValue(command: string[], flag: string): string | undefined {
  const prefix = `--${flag}=`;
  return command.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function staticPodCommand(kube: Kube, component: string): Promise<string[]> {
  const pod = await kube.core.readNamespacedPod({
    namespace: 'kube-system',
    name: `${component}-${CLUSTER_NAME}-control-plane`,
  });
  return pod.spec?.containers[0]?.command ?? [];
}

export async function readLiveSettings(kube: Kube, node = `${CLUSTER_NAME}-worker`): Promise<LiveSettings> {
  const sources: Record<string, string> = {};
  const pick = (name: string, command: string[], flag: string, fallback: number, where: string) => {
    const v = flagValue(command, flag);
    sources[name] = v
      ? `${where} --${flag}=${v}`
      : `Kubernetes default ${fallback}s (no --${flag} on ${where})`;
    return v ? parseDuration(v) : fallback;
  };
  const cm = await staticPodCommand(kube, 'kube-controller-manager');
  const api = await staticPodCommand(kube, 'kube-apiserver');
  const configz = (await kube.core.connectGetNodeProxyWithPath({
    name: node,
    path: 'configz',
  })) as unknown as string;
  const kubelet =
    (
      JSON.parse(typeof configz === 'string' ? configz : JSON.stringify(configz)) as {
        kubeletconfig?: { nodeStatusUpdateFrequency?: string; nodeLeaseDurationSeconds?: number };
      }
    ).kubeletconfig ?? {};
  sources.nodeStatusUpdateFrequency = `kubelet configz of ${node}: ${kubelet.nodeStatusUpdateFrequency ?? 'default 10s'}`;
  sources.nodeLeaseDurationSeconds = `kubelet configz of ${node}: ${kubelet.nodeLeaseDurationSeconds ?? 'default 40'}`;
  return {
    nodeMonitorGracePeriod: pick(
      'nodeMonitorGracePeriod',
      cm,
      'node-monitor-grace-period',
      50,
      'kube-controller-manager',
    ),
    nodeMonitorPeriod: pick('nodeMonitorPeriod', cm, 'node-monitor-period', 5, 'kube-controller-manager'),
    defaultUnreachableToleration: pick(
      'defaultUnreachableToleration',
      api,
      'default-unreachable-toleration-seconds',
      300,
      'kube-apiserver',
    ),
    defaultNotReadyToleration: pick(
      'defaultNotReadyToleration',
      api,
      'default-not-ready-toleration-seconds',
      300,
      'kube-apiserver',
    ),
    nodeStatusUpdateFrequency: parseDuration(kubelet.nodeStatusUpdateFrequency ?? '10s'),
    nodeLeaseDurationSeconds: kubelet.nodeLeaseDurationSeconds ?? 40,
    sources,
  };
}

/** Env override for any bound: LAB_TIMEOUT_<NAME> in seconds. */
export function bound(name: string, derived: number): number {
  const v = process.env[`LAB_TIMEOUT_${name.toUpperCase()}`];
  return v ? Number(v) : derived;
}
