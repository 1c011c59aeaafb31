// What the integration tests stand on: the real lab cluster (never a mock), its live settings and
// the bounds derived from them (printed once), a labelled namespace per file, and helpers that
// only ever fault one worker, never the control plane, and never while another run is faulting.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { connect, type Kube } from '../../lib/cluster/kube.ts';
import { replayPending } from '../../lib/faults/journal.ts';
import { nodeReadyStatus } from '../../lib/observe/k8s-facts.ts';
import { isStale, sweepStaleNamespaces } from '../../lib/run/namespaces.ts';
import { kindNodes } from '../../lib/cluster/kind-nodes.ts';
import {
  CLUSTER_NAME,
  KUBECONFIG_PATH,
  LAB_BIN,
  NAMESPACE_LABEL,
  REPO_ROOT,
  RUN_ID,
} from '../../lib/cluster/paths.ts';
import { clusterResources, Recorder } from '../../lib/observe/recorder.ts';
import { explainBounds, loadSettings, type Bounds, type LiveSettings } from '../../lib/cluster/settings.ts';
import { until } from '../../lib/observe/waits.ts';
import { closeRun, openRun, type Run, type RunContext } from '../../lib/run/run.ts';

process.env.PATH = `${LAB_BIN}:${process.env.PATH}`;

export const NODE_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'node');
/** The workers the tests may fault, in order of preference (scenarios prefer worker2/worker3). */
export const TEST_WORKERS = process.env.LAB_TEST_WORKER
  ? [process.env.LAB_TEST_WORKER]
  : [`${CLUSTER_NAME}-worker`, `${CLUSTER_NAME}-worker2`, `${CLUSTER_NAME}-worker3`];
/** The image every node has preloaded (it is the sandbox image): test pods never pull. */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';

export interface ClusterForTests {
  kube: Kube;
  live: LiveSettings;
  bounds: Bounds;
}

let cluster: Promise<ClusterForTests> | undefined;

/** The one entry point integration tests use to get the cluster. Fails with what to do when it is not up. */
export function ensureClusterForTests(): Promise<ClusterForTests> {
  cluster ??= (async () => {
    const todo = 'Run `npm run cluster:up` (it builds and starts the lab cluster), then run the tests again.';
    if (!existsSync(KUBECONFIG_PATH)) {
      throw new Error(`The lab cluster is not up: there is no ${KUBECONFIG_PATH}. ${todo}`);
    }
    let kube: Kube;
    try {
      kube = await connect();
    } catch (err) {
      throw new Error(`The lab cluster does not answer as ours: ${(err as Error).message}\n${todo}`, {
        cause: err,
      });
    }
    // The start of a run: repair what a killed run left (its writer is dead), as scenarios do.
    for (const undone of await replayPending({ kube }))
      console.log(`    repaired what an earlier run left: ${undone}`);
    for (const swept of await sweepStaleNamespaces(kube))
      console.log(`    deleting namespace ${swept} of a run that is over`);
    const { live, bounds } = await loadSettings(kube);
    console.log(`\n${explainBounds(live, bounds).replace(/^/gm, '    ')}\n`);
    return { kube, live, bounds };
  })();
  cluster.catch(() => (cluster = undefined));
  return cluster;
}

/** Registers a before hook in the current describe; the getter is valid inside tests. */
export function useCluster(): () => ClusterForTests {
  let c: ClusterForTests | undefined;
  before(async function () {
    this.timeout(60_000);
    c = await ensureClusterForTests();
  });
  return () => {
    if (!c) throw new Error('the cluster fixture did not run');
    return c;
  };
}

/**
 * A run for the describe, through the same lifecycle as a behaviour (lib/run/run.ts): a fresh
 * labelled namespace, a recorder, journaled faults; closed after it (namespace deleted unless
 * LAB_KEEP=1). Mocha keeps its own error handling, so no Ctrl-C handler is installed here.
 */
export function useRun(get: () => ClusterForTests, name = 'harness-test'): () => RunContext {
  let run: Run | undefined;
  let failed = false;
  before(async function () {
    this.timeout(60_000);
    get(); // the cluster fixture ran first
    run = await openRun(name, { undoOnExit: false });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });
  after(async function () {
    this.timeout(120_000);
    if (run)
      await closeRun(run, {
        verdicts: [{ title: name, state: failed ? 'failed' : 'passed', at: Date.now() }],
        artifacts: false,
        waitGone: false,
      });
  });
  return () => {
    if (!run) throw new Error('the run fixture did not open');
    return run.ctx;
  };
}

/** The namespace of a run for the describe (see useRun). */
export function useNamespace(get: () => ClusterForTests, name = 'harness-test'): () => string {
  const run = useRun(get, name);
  return () => run().ns;
}

export function pausePod(
  name: string,
  extra: { node?: string; labels?: Record<string, string> } = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'harness-test', ...extra.labels } },
    spec: {
      terminationGracePeriodSeconds: 1,
      ...(extra.node ? { nodeName: extra.node } : {}),
      containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }],
    },
  };
}

/**
 * Picks the worker a node-fault test may use (the caller holds the node-fault lock, so no other run
 * has a node faulted): every node Ready first (awaited on the recorder, bounded by nodeReady), and a
 * worker running pods of another live lab run is passed over.
 */
export async function exclusiveWorker(c: ClusterForTests, rec: Recorder): Promise<string> {
  const nodes = () => rec.objects<V1Node>('nodes');
  await until(rec, () => nodes().length === 4 && nodes().every((n) => nodeReadyStatus(n) === 'True'), {
    timeout: c.bounds.nodeReady.seconds,
    why: `all 4 nodes Ready before a node fault (bound nodeReady: ${c.bounds.nodeReady.why})`,
    describe: () =>
      nodes()
        .map((n) => `  ${n.metadata?.name} Ready=${nodeReadyStatus(n)}`)
        .join('\n'),
  });
  const workers = new Set((await kindNodes.list()).filter((n) => n.role === 'worker').map((n) => n.name));
  // Live runs only: a dead run's namespace is swept, and one already being deleted only delays its
  // own deletion if its node stops (until the undo starts it again).
  const others = (await c.kube.core.listNamespace({ labelSelector: NAMESPACE_LABEL })).items.filter(
    (ns) =>
      ns.metadata?.labels?.[NAMESPACE_LABEL] !== RUN_ID && !ns.metadata?.deletionTimestamp && !isStale(ns),
  );
  const used = new Map<string, string>();
  for (const ns of others) {
    for (const pod of (await c.kube.core.listNamespacedPod({ namespace: ns.metadata!.name! })).items) {
      if (pod.spec?.nodeName) used.set(pod.spec.nodeName, ns.metadata!.name!);
    }
  }
  const free = TEST_WORKERS.find((w) => workers.has(w) && !used.has(w));
  if (!free) {
    throw new Error(
      `no worker free for a node fault: ${TEST_WORKERS.map((w) => `${w} ${workers.has(w) ? `runs pods of ${used.get(w)}` : 'is not a worker'}`).join(', ')}; run the node-fault tests when the other run is done`,
    );
  }
  return free;
}

export function nodeRecorder(kube: Kube): Recorder {
  return new Recorder(
    kube,
    clusterResources.filter((r) => r.resource === 'nodes'),
  );
}

export function seconds(fromMs: number, toMs = performance.now()): string {
  return `${((toMs - fromMs) / 1000).toFixed(1)}s`;
}
