// What node-stop and partition both prove after a node goes silent: the Node turns Ready=Unknown
// and is tainted unreachable, the pod is evicted (deletionTimestamp, still "Running" in the API),
// and no pod with that name and a new UID appears. Bounds come from the live settings.
import { spawn } from 'node:child_process';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { $ } from 'zx';
import { KUBECONFIG_PATH, KUBE_CONTEXT } from '../../lib/cluster/paths.ts';
import { note } from '../../lib/run/console.ts';
import { noReplacementDuring } from '../../lib/observe/evidence.ts';
import { nodeReadyStatus } from '../../lib/observe/k8s-facts.ts';
import { holds, until } from '../../lib/observe/waits.ts';
import { waiting, type ScenarioContext } from '../../lib/run/context.ts';
import { renderSeed } from './seed.ts';

export const VICTIM = 'statefulset-lab-worker3';
export const OTHER = 'statefulset-lab-worker2';
/** Seconds the pods tolerate the unreachable/not-ready taints, set in their template (not the cluster default). */
export const TOLERATION = 10;

/** The seed StatefulSet with one replica that prefers the victim node and may move to OTHER. */
export function seedOnVictim(ns: string, storageClass: 'shared' | 'standard') {
  return renderSeed(ns, {
    replicas: 1,
    storageClass,
    tolerationSeconds: TOLERATION,
    nodeNames: [VICTIM, OTHER],
    preferNode: VICTIM,
  });
}

export interface NodeLoss {
  unknownAt: number;
  evictedAt: number;
  /** The window in which no replacement was seen (wall ms). */
  window: { from: number; to: number };
}

export async function proveNoReplacement(
  ctx: ScenarioContext,
  podName: string,
  uid: string,
  lostAt: number,
  /** Where the eviction line goes: the scenario's console; a lab prints the facts in its own language. */
  report: (line: string) => void = note,
): Promise<NodeLoss> {
  const s = ctx.settings;
  const victim = () => ctx.rec.get<V1Node>('nodes', VICTIM);
  const pod = () => ctx.rec.get<V1Pod>('pods', podName, ctx.ns);
  const graceBound = s.nodeMonitorGracePeriod + s.nodeMonitorPeriod + s.nodeLeaseDurationSeconds;
  await waiting(
    ctx,
    until(ctx.rec, () => nodeReadyStatus(victim()) === 'Unknown', {
      timeout: graceBound,
      why: `${VICTIM} Ready=Unknown (bound ${graceBound}s = grace ${s.nodeMonitorGracePeriod}s + monitor period ${s.nodeMonitorPeriod}s + lease ${s.nodeLeaseDurationSeconds}s)`,
    }),
  );
  const unknownAt = Date.now();
  await waiting(
    ctx,
    until(
      ctx.rec,
      () =>
        victim()?.spec?.taints?.some(
          (t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute',
        ),
      { timeout: 30, why: 'the unreachable NoExecute taint' },
    ),
  );
  const evictBound = TOLERATION + 2 * s.nodeMonitorPeriod + 10;
  await waiting(
    ctx,
    until(ctx.rec, () => pod()?.metadata?.uid === uid && pod()?.metadata?.deletionTimestamp, {
      timeout: evictBound,
      why: `${podName} evicted: deletionTimestamp set (bound ${evictBound}s = toleration ${TOLERATION}s + 2 monitor periods + 10 s)`,
    }),
  );
  const evictedAt = Date.now();
  report(
    `Ready=Unknown +${((unknownAt - lostAt) / 1000).toFixed(1)}s (live grace ${s.nodeMonitorGracePeriod}s); evicted +${((evictedAt - lostAt) / 1000).toFixed(1)}s; the API still says ${pod()?.status?.phase}, Terminating`,
  );
  // Absence is watched, not slept: the first replacement event ends the window and fails it. The
  // window is time given to Kubernetes to misbehave, so it counts as waiting.
  const observe = TOLERATION + 3 * s.nodeMonitorPeriod;
  await waiting(
    ctx,
    holds(
      ctx.rec,
      () =>
        pod() && pod()?.metadata?.uid !== uid
          ? `a replacement ${podName} uid ${pod()?.metadata?.uid}`
          : undefined,
      {
        seconds: observe,
        why: `no replacement for ${observe}s more (toleration + 3 monitor periods)`,
      },
    ),
  );
  const window = { from: lostAt, to: Date.now() };
  noReplacementDuring(ctx.rec.events, podName, uid, window);
  return { unknownAt, evictedAt, window };
}

/** mariadbd processes running inside a kind node (a node's container sees its pods' processes). */
export async function mysqldOn(node: string): Promise<string[]> {
  const r = await $`docker exec ${node} pgrep -a mariadbd`.nothrow().quiet();
  return r.stdout.split('\n').filter(Boolean);
}

/** Follows a pod's log until a line matches (`kubectl logs -f`: no polling), or gives up after `seconds`. */
export function logLine(
  ctx: ScenarioContext,
  podName: string,
  pattern: RegExp,
  timeoutSeconds: number,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const follow = spawn('kubectl', [
      '--kubeconfig',
      KUBECONFIG_PATH,
      '--context',
      KUBE_CONTEXT,
      'logs',
      '-f',
      '-n',
      ctx.ns,
      podName,
    ]);
    let buffered = '';
    const done = (line: string | undefined) => {
      clearTimeout(timer);
      follow.kill();
      resolve(line);
    };
    const timer = setTimeout(() => done(undefined), timeoutSeconds * 1000);
    follow.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const hit = buffered.split('\n').find((l) => pattern.test(l));
      if (hit) done(hit);
    });
    follow.on('exit', () => done(buffered.split('\n').find((l) => pattern.test(l))));
  });
}
