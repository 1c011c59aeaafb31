// The one run lifecycle, shared by the scenario runner, the lab runner, the bench and the
// integration tests. Opening proves the cluster is ours (connect), repairs what a dead run left
// (journal replay, stale namespaces), makes a fresh labelled namespace, starts the recorder before
// the first action and reads the live settings with the bounds derived from them. Closing undoes
// every fault, writes what the report reads, collects diagnostics on failure, and deletes the
// namespace — whatever happened in between.
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { connect, type Kube } from '../cluster/kube.ts';
import { createScenarioNamespace, deleteNamespace, sweepStaleNamespaces } from './namespaces.ts';
import { ARTIFACTS_DIR, LAB_BIN, RUN_ID } from '../cluster/paths.ts';
import {
  deriveBounds,
  readLiveSettings,
  type Bound,
  type Bounds,
  type LiveSettings,
} from '../cluster/settings.ts';
import { Faults } from '../faults/faults.ts';
import { replayPending, undoOnExit } from '../faults/journal.ts';
import { clusterResources, namespacedResources, Recorder, type ResourceSpec } from '../observe/recorder.ts';
import { until, type Check } from '../observe/waits.ts';
import { writeScenarioFiles, type StoryEntry, type Verdict } from '../report/data.ts';
import { beginStory, endStory } from './console.ts';
import { collectDiagnostics } from './diagnostics.ts';

/** What every step of a behaviour stands on. */
export interface RunContext {
  /** The behaviour (or test file) this run is for; also its artifacts directory. */
  name: string;
  kube: Kube;
  ns: string;
  rec: Recorder;
  faults: Faults;
  settings: LiveSettings;
  /** Every wait's bound, derived from the live settings (LAB_TIMEOUT_* overrides). */
  bounds: Bounds;
  /** Nodes whose kubelet journal goes into the diagnostics bundle on failure. */
  involvedNodes: Set<string>;
  /** Seconds spent waiting for Kubernetes (grace periods, tolerations, the workload's start). */
  waited: number;
}

export interface Run {
  ctx: RunContext;
  /** What the opening repaired (faults of dead runs) and swept (their namespaces), in words. */
  repaired: string[];
  swept: string[];
  startedAt: number;
  story: StoryEntry[];
  /** performance.now() at the opening, for the time split. */
  t0: number;
}

const NAMESPACES: ResourceSpec = {
  resource: 'namespaces',
  apiVersion: 'v1',
  kind: 'Namespace',
  path: '/api/v1/namespaces',
};

/** Deleting a run's namespace: the workload's graceful stop (the seed's ≤ 30 s) and the volumes' clean-up, with room. */
export const NAMESPACE_GONE_BOUND = 180;

export interface OpenOptions {
  namespacePrefix?: string;
  /** Install the Ctrl-C/crash undo (default); a test runner that handles its own errors says false. */
  undoOnExit?: boolean;
}

export async function openRun(name: string, options: OpenOptions = {}): Promise<Run> {
  process.env.PATH = `${LAB_BIN}:${process.env.PATH}`;
  // Ctrl-C, SIGTERM or a crash: undo this process's journaled faults and delete its namespace.
  if (options.undoOnExit ?? true) undoOnExit();
  const t0 = performance.now();
  const startedAt = Date.now();
  const story = beginStory();
  const kube = await connect();
  const repaired = await replayPending({ kube });
  const swept = await sweepStaleNamespaces(kube);
  const ns = await createScenarioNamespace(kube, `${options.namespacePrefix ?? ''}${name}`);
  const settings = await readLiveSettings(kube);
  const bounds = deriveBounds(settings);
  const rec = await new Recorder(kube, [...namespacedResources(ns), ...clusterResources, NAMESPACES], {
    idleSeconds: bounds.watchIdle.seconds,
    watchSeconds: bounds.watchTimeout.seconds,
  }).start();
  const ctx: RunContext = {
    name,
    kube,
    ns,
    rec,
    faults: new Faults(kube),
    settings,
    bounds,
    involvedNodes: new Set(),
    waited: 0,
  };
  return { ctx, repaired, swept, startedAt, story, t0 };
}

export interface CloseOptions {
  verdicts: Verdict[];
  /** Write timeline/story/faults/verdicts under artifacts/<run>/<name>/ for the report. */
  artifacts: boolean;
  /** Wait until the namespace is really gone (a lab before the next one; not the suite). */
  waitGone: boolean;
  /** Keep the namespace (LAB_KEEP=1, or LAB_KEEP_ON_FAILURE=1 and a verdict failed). */
  keep?: boolean;
}

export interface Closed {
  /** Seconds the run took in all, and how many of them were spent waiting for Kubernetes. */
  seconds: number;
  waited: number;
  cleanupSeconds: number;
  diagnostics?: string;
  kept: boolean;
}

/** Undoes every fault, writes the run's files, diagnostics on failure, deletes the namespace. */
export async function closeRun(run: Run, options: CloseOptions): Promise<Closed> {
  const { ctx } = run;
  const seconds = (performance.now() - run.t0) / 1000;
  const t0 = performance.now();
  const failed = options.verdicts.some((v) => v.state === 'failed');
  const errors: unknown[] = [];
  await ctx.faults.undoAll().catch((e) => errors.push(e));
  const dir = join(ARTIFACTS_DIR, RUN_ID, ctx.name);
  endStory(run.story);
  if (options.artifacts)
    writeScenarioFiles(dir, {
      meta: {
        name: ctx.name,
        run: RUN_ID,
        namespace: ctx.ns,
        startedAt: run.startedAt,
        endedAt: Date.now(),
        verdicts: options.verdicts,
      },
      events: ctx.rec.events,
      story: run.story,
      faults: ctx.faults.injected,
    });
  let diagnostics: string | undefined;
  if (failed) {
    await collectDiagnostics({
      kube: ctx.kube,
      namespace: ctx.ns,
      dir,
      nodes: ctx.involvedNodes,
      provider: ctx.faults.provider,
    })
      .then(() => (diagnostics = dir))
      .catch((e) => errors.push(e));
  }
  const keep =
    options.keep ?? (process.env.LAB_KEEP === '1' || (failed && process.env.LAB_KEEP_ON_FAILURE === '1'));
  try {
    if (!keep) {
      await deleteNamespace(ctx.kube, ctx.ns);
      if (options.waitGone)
        await until(ctx.rec, () => !ctx.rec.get('namespaces', ctx.ns), {
          timeout: NAMESPACE_GONE_BOUND,
          why: `namespace ${ctx.ns} gone (bound ${NAMESPACE_GONE_BOUND}s: the workload's graceful stop and volume clean-up)`,
        });
    }
  } catch (e) {
    errors.push(e);
  }
  ctx.rec.stop();
  if (errors.length) throw new Error(`clean-up of ${ctx.name} failed: ${errors.map(String).join('; ')}`);
  return {
    seconds,
    waited: ctx.waited,
    cleanupSeconds: (performance.now() - t0) / 1000,
    ...(diagnostics ? { diagnostics } : {}),
    kept: keep,
  };
}

/** Creates objects in the run's namespace. */
export async function createAll(ctx: RunContext, objects: KubernetesObject[]): Promise<void> {
  for (const o of objects) {
    o.metadata = { ...o.metadata, namespace: ctx.ns };
    await ctx.kube.objects.create(o);
  }
}

/** Times a wait on Kubernetes, for the per-run "waiting vs harness" split. */
export async function waiting<T>(ctx: RunContext, work: Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work;
  } finally {
    ctx.waited += (performance.now() - t0) / 1000;
  }
}

/** Waits on recorded events until `check` answers, within `b`; a timeout quotes what and the bound's derivation. */
export function waitFor<T>(ctx: RunContext, what: string, b: Bound, check: Check<T>): Promise<T> {
  return waiting(
    ctx,
    until(ctx.rec, check, { timeout: b.seconds, why: `${what} (bound ${b.seconds}s: ${b.why})` }),
  );
}
