// The one place timeouts come from. The cluster's live failure-detection settings are read from the
// running control plane (static pod flags) and a kubelet's /configz, falling back to Kubernetes
// 1.33's defaults; every bound a scenario waits with is derived from them, and can say how.
//
// Environment (all in seconds; see SETTINGS_ENV, which `explainBounds` prints too):
//   LAB_TIMEOUT_SLACK                  control-plane reaction time added to each derived bound (10)
//   LAB_TIMEOUT_<BOUND>                replaces one derived bound, e.g. LAB_TIMEOUT_NODE_UNKNOWN=60;
//                                      names: NODE_UNKNOWN, POD_EVICTED, NO_REPLACEMENT_WINDOW,
//                                      NODE_READY, KUBELET_REREGISTER, POD_GC
//   LAB_TIMEOUT_NODE_BOOT              a stopped kind node's container boot until kubelet runs (60)
//   LAB_TIMEOUT_NODE_FAULT_LOCK        how long a node fault waits for another run's to be undone (900)
//   LAB_WATCH_IDLE, LAB_WATCH_TIMEOUT  recorder: restart a silent watch after (90); server-side
//                                      watch timeout, so streams are renewed (60)
import type { V1Node } from '@kubernetes/client-node';
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

/** Kubernetes 1.33's defaults, used when a flag or kubelet field is absent. */
export const K8S_DEFAULTS = {
  nodeMonitorGracePeriod: 50,
  nodeMonitorPeriod: 5,
  defaultUnreachableToleration: 300,
  defaultNotReadyToleration: 300,
  nodeStatusUpdateFrequency: 10,
  nodeLeaseDurationSeconds: 40,
} as const;

/** Pod garbage collection (pkg/controller/podgc): not flags, so constants. */
export const POD_GC = { quarantineSeconds: 40, periodSeconds: 20 } as const;

export const SETTINGS_ENV: ReadonlyArray<{ name: string; default: string; meaning: string }> = [
  {
    name: 'LAB_TIMEOUT_SLACK',
    default: '10',
    meaning: 'seconds added to each derived bound for the control plane to react',
  },
  {
    name: 'LAB_TIMEOUT_<BOUND>',
    default: 'derived',
    meaning: 'replaces one derived bound (names in explainBounds)',
  },
  {
    name: 'LAB_TIMEOUT_NODE_BOOT',
    default: '60',
    meaning: 'a stopped kind node: docker start until its kubelet runs',
  },
  {
    name: 'LAB_TIMEOUT_NODE_FAULT_LOCK',
    default: '900',
    meaning: "a node fault waits this long for another run's node fault to be undone",
  },
  { name: 'LAB_WATCH_IDLE', default: '90', meaning: 'recorder restarts a watch silent for this long' },
  { name: 'LAB_WATCH_TIMEOUT', default: '60', meaning: 'server-side timeout of each watch request' },
];

/** Reads a Go duration ("1m30s", "500ms", "20s") or plain seconds ("300"). */
export function parseDuration(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  const units = { h: 3600, m: 60, s: 1, ms: 0.001 } as const;
  let total = 0;
  let matched = '';
  let m: RegExpExecArray | null;
  while ((m = re.exec(value))) {
    total += Number(m[1]) * units[m[2] as keyof typeof units];
    matched += m[0];
  }
  if (!value || matched !== value) throw new Error(`cannot read duration "${value}"`);
  return total;
}

/** A flag's value in a container command, as `--flag=value` or `--flag value`. */
export function flagValue(command: readonly string[], flag: string): string | undefined {
  const prefix = `--${flag}=`;
  for (let i = 0; i < command.length; i++) {
    const arg = command[i]!;
    if (arg.startsWith(prefix)) return arg.slice(prefix.length);
    if (arg === `--${flag}` && i + 1 < command.length) return command[i + 1];
  }
  return undefined;
}

export interface KubeletConfigz {
  nodeStatusUpdateFrequency?: string;
  nodeLeaseDurationSeconds?: number;
}

/** The kubelet part of /api/v1/nodes/<node>/proxy/configz. */
export function parseConfigz(body: unknown): KubeletConfigz {
  const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { kubeletconfig?: KubeletConfigz };
  return parsed?.kubeletconfig ?? {};
}

/** Live settings from the two static pods' commands and one kubelet's configuration (pure). */
export function settingsFrom(
  controllerManager: readonly string[],
  apiServer: readonly string[],
  kubelet: KubeletConfigz,
  kubeletSource: string,
): LiveSettings {
  const sources: Record<string, string> = {};
  const pick = (
    name: keyof typeof K8S_DEFAULTS,
    command: readonly string[],
    flag: string,
    where: string,
  ): number => {
    const v = flagValue(command, flag);
    sources[name] = v
      ? `${where} --${flag}=${v}`
      : `Kubernetes default ${K8S_DEFAULTS[name]}s (no --${flag} on ${where})`;
    return v ? parseDuration(v) : K8S_DEFAULTS[name];
  };
  const cm = 'kube-controller-manager';
  const api = 'kube-apiserver';
  const freq = kubelet.nodeStatusUpdateFrequency;
  const lease = kubelet.nodeLeaseDurationSeconds;
  sources.nodeStatusUpdateFrequency = freq
    ? `${kubeletSource} nodeStatusUpdateFrequency=${freq}`
    : `Kubernetes default ${K8S_DEFAULTS.nodeStatusUpdateFrequency}s (not in ${kubeletSource})`;
  sources.nodeLeaseDurationSeconds = lease
    ? `${kubeletSource} nodeLeaseDurationSeconds=${lease}`
    : `Kubernetes default ${K8S_DEFAULTS.nodeLeaseDurationSeconds}s (not in ${kubeletSource})`;
  return {
    nodeMonitorGracePeriod: pick(
      'nodeMonitorGracePeriod',
      controllerManager,
      'node-monitor-grace-period',
      cm,
    ),
    nodeMonitorPeriod: pick('nodeMonitorPeriod', controllerManager, 'node-monitor-period', cm),
    defaultUnreachableToleration: pick(
      'defaultUnreachableToleration',
      apiServer,
      'default-unreachable-toleration-seconds',
      api,
    ),
    defaultNotReadyToleration: pick(
      'defaultNotReadyToleration',
      apiServer,
      'default-not-ready-toleration-seconds',
      api,
    ),
    nodeStatusUpdateFrequency: freq ? parseDuration(freq) : K8S_DEFAULTS.nodeStatusUpdateFrequency,
    nodeLeaseDurationSeconds: lease ?? K8S_DEFAULTS.nodeLeaseDurationSeconds,
    sources,
  };
}

async function staticPodCommand(kube: Kube, component: string): Promise<string[]> {
  const pod = await kube.core.readNamespacedPod({
    namespace: 'kube-system',
    name: `${component}-${CLUSTER_NAME}-control-plane`,
  });
  const c = pod.spec?.containers[0];
  return [...(c?.command ?? []), ...(c?.args ?? [])];
}

function isReady(node: V1Node): boolean {
  return !!node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Reads the live settings. The kubelet's configuration comes from `node` when it is Ready, otherwise
 * from any Ready node (all kubelets of the lab share one configuration); a scenario may be reading
 * settings while its victim node is down.
 */
export async function readLiveSettings(kube: Kube, node = `${CLUSTER_NAME}-worker`): Promise<LiveSettings> {
  const cm = await staticPodCommand(kube, 'kube-controller-manager');
  const api = await staticPodCommand(kube, 'kube-apiserver');
  const nodes = (await kube.core.listNode()).items.filter(isReady).map((n) => n.metadata!.name!);
  const source = nodes.includes(node) ? node : nodes[0];
  let kubelet: KubeletConfigz = {};
  let where = 'no Ready node to ask';
  if (source) {
    where = `kubelet configz of ${source}`;
    kubelet = parseConfigz(await kube.core.connectGetNodeProxyWithPath({ name: source, path: 'configz' }));
  }
  return settingsFrom(cm, api, kubelet, where);
}

export interface Bound {
  seconds: number;
  /** How it was derived (or which variable replaced it). */
  why: string;
}

export interface Bounds {
  /** A node stopped/paused/cut off → Ready=Unknown and the unreachable taint. */
  nodeUnknown: Bound;
  /** A node stopped → its pods (default tolerations) get a deletionTimestamp. */
  podEvicted: Bound;
  /** Minimum window in which no replacement may appear after a node loss: past grace + toleration. */
  noReplacementWindow: Bound;
  /** A stopped/paused/cut-off node restored → Ready=True again. */
  nodeReady: Bound;
  /** A Node object deleted → the restarted kubelet registers it again, Ready. */
  kubeletReregister: Bound;
  /** A Node object deleted → pod GC force-deletes its pods. */
  podGc: Bound;
  /** The workload's first start (data directory initialised) or a restart on it, until Ready. */
  workloadStart: Bound;
  /** A pod of a preloaded image (client, Deployment contrast) from creation to Ready. */
  podStart: Bound;
  /** The workload's graceful stop of one pod (its stop signal, flush, exit) within its grace period. */
  workloadStop: Bound;
  /** A controller reacting to a change it watches: ReplicaSet replacement, endpoint update,
   * scheduler event, PVC bound or garbage-collected. */
  controllerReaction: Bound;
  /** The seed's readiness probe turning a pod Ready=False (or back) and the EndpointSlice following. */
  readinessChange: Bound;
  /** A container in crash-loop back-off started again and its server Ready. */
  crashLoopRestart: Bound;
  /** Recorder: restart a watch silent for this long; server-side watch timeout. */
  watchIdle: Bound;
  watchTimeout: Bound;
}

/** One bound after another: their sum, with both derivations. */
export const plus = (a: Bound, b: Bound): Bound => ({
  seconds: a.seconds + b.seconds,
  why: `${a.why}; then ${b.why}`,
});

/** A bound for `n` of the same thing one after another. */
export const times = (n: number, b: Bound): Bound => ({ seconds: n * b.seconds, why: `${n} × (${b.why})` });

type Env = Record<string, string | undefined>;

function envSeconds(env: Env, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number of seconds`);
  return n;
}

/** Derives every bound from the live settings; each carries its arithmetic. */
export function deriveBounds(live: LiveSettings, env: Env = process.env): Bounds {
  const slack = envSeconds(env, 'LAB_TIMEOUT_SLACK') ?? 10;
  const boot = envSeconds(env, 'LAB_TIMEOUT_NODE_BOOT') ?? 60;
  const g = live.nodeMonitorGracePeriod;
  const p = live.nodeMonitorPeriod;
  const t = live.defaultUnreachableToleration;
  const f = live.nodeStatusUpdateFrequency;
  const lease = live.nodeLeaseDurationSeconds;
  const make = (envName: string, seconds: number, why: string): Bound => {
    const override = envSeconds(env, `LAB_TIMEOUT_${envName}`);
    return override !== undefined
      ? {
          seconds: override,
          why: `LAB_TIMEOUT_${envName}=${override} (derived would be ${seconds}s: ${why})`,
        }
      : { seconds, why };
  };
  return {
    nodeUnknown: make(
      'NODE_UNKNOWN',
      g + p + slack,
      `grace ${g}s (silence before Unknown) + monitor period ${p}s (next check) + slack ${slack}s`,
    ),
    podEvicted: make(
      'POD_EVICTED',
      g + 2 * p + t + slack,
      `grace ${g}s + 2× monitor period ${p}s (mark, then taint) + unreachable toleration ${t}s + slack ${slack}s`,
    ),
    noReplacementWindow: make(
      'NO_REPLACEMENT_WINDOW',
      g + 2 * p + t + 2 * slack,
      `longer than grace ${g}s + 2× period ${p}s + toleration ${t}s, by 2× slack ${slack}s: eviction has happened inside it`,
    ),
    nodeReady: make(
      'NODE_READY',
      boot + Math.max(f, lease / 4) + p + slack,
      `node boot ${boot}s (LAB_TIMEOUT_NODE_BOOT) + first status/lease ${Math.max(f, lease / 4)}s + monitor period ${p}s + slack ${slack}s`,
    ),
    kubeletReregister: make(
      'KUBELET_REREGISTER',
      boot + f + p + slack,
      `kubelet start ${boot}s (LAB_TIMEOUT_NODE_BOOT) + status update ${f}s + monitor period ${p}s + slack ${slack}s`,
    ),
    podGc: make(
      'POD_GC',
      POD_GC.quarantineSeconds + 2 * POD_GC.periodSeconds + slack,
      `pod GC quarantine ${POD_GC.quarantineSeconds}s + 2× its ${POD_GC.periodSeconds}s period + slack ${slack}s (constants, not flags)`,
    ),
    // Measured at 10-20 s per MySQL pod here (PostgreSQL 4-8 s); room for a loaded machine. Not a cluster
    // setting: the workload's own start, so a constant with its variable.
    workloadStart: make(
      'WORKLOAD_START',
      180,
      "the workload's first start (the seed's MySQL 10-20 s measured, PostgreSQL 4-8 s), readiness probe every 2 s, room for a loaded 2-core machine",
    ),
    podStart: make('POD_START', 120, 'a preloaded image starts in seconds; room for a loaded machine'),
    workloadStop: make(
      'WORKLOAD_STOP',
      60,
      "the workload's termination grace period (the seed's 30 s), with room",
    ),
    controllerReaction: make(
      'CONTROLLER_REACTION',
      60,
      'controllers react within seconds of the change they watch; room for a loaded 2-core machine',
    ),
    readinessChange: make(
      'READINESS_CHANGE',
      60,
      "the seed's probe: failureThreshold 3 × (period 2 s + timeout 5 s) = 21 s, plus the endpoint controller",
    ),
    crashLoopRestart: make(
      'CRASH_LOOP_RESTART',
      300,
      "kubelet's crash-loop back-off (capped at 300 s) covers the restart; the workload then starts within it",
    ),
    watchIdle: make('WATCH_IDLE', envSeconds(env, 'LAB_WATCH_IDLE') ?? 90, 'LAB_WATCH_IDLE or 90s'),
    watchTimeout: make(
      'WATCH_TIMEOUT',
      envSeconds(env, 'LAB_WATCH_TIMEOUT') ?? 60,
      'LAB_WATCH_TIMEOUT or 60s',
    ),
  };
}

/** The live values with their sources, then every bound with its arithmetic: print it before waiting. */
export function explainBounds(live: LiveSettings, bounds: Bounds): string {
  const lines = ['live settings:'];
  for (const [name, source] of Object.entries(live.sources)) {
    lines.push(
      `  ${name.padEnd(30)} ${String(live[name as keyof typeof K8S_DEFAULTS]).padStart(5)}s  ${source}`,
    );
  }
  lines.push('derived bounds:');
  for (const [name, b] of Object.entries(bounds) as Array<[string, Bound]>) {
    lines.push(`  ${name.padEnd(30)} ${String(b.seconds).padStart(5)}s  ${b.why}`);
  }
  return lines.join('\n');
}

/** Live settings and the bounds derived from them, in one call. */
export async function loadSettings(
  kube: Kube,
  env: Env = process.env,
): Promise<{ live: LiveSettings; bounds: Bounds }> {
  const live = await readLiveSettings(kube);
  return { live, bounds: deriveBounds(live, env) };
}

/** Env override for any bound a scenario derives itself: LAB_TIMEOUT_<NAME> in seconds. */
export function bound(name: string, derived: number): number {
  return envSeconds(process.env, `LAB_TIMEOUT_${name.toUpperCase()}`) ?? derived;
}
