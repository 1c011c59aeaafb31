// What every scenario stands on: a guarded client, a fresh labelled namespace, a recorder watching
// from before the first action, fault injection with an undo journal, and the cluster's live
// settings. Registered as mocha hooks by `useScenario`; undone and cleaned up whatever happens.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { $ } from 'zx';
import { connect, type Kube } from '../cluster/kube.ts';
import { Faults } from '../faults/faults.ts';
import { replayPending, undoOnExit } from '../faults/journal.ts';
import {
  createScenarioNamespace,
  deleteNamespace,
  RUN_ID,
  sweepStaleNamespaces,
} from '../cluster/namespaces.ts';
import { ARTIFACTS_DIR, KUBECONFIG_PATH, KUBE_CONTEXT, LAB_BIN } from '../cluster/paths.ts';
import { clusterResources, namespacedResources, Recorder } from '../observe/recorder.ts';
import { readLiveSettings, type LiveSettings } from '../cluster/settings.ts';
import { beginStory, endStory, note, type StoryEntry } from './console.ts';
import { writeScenarioFiles, type Verdict } from '../report/data.ts';
import { kindNodes } from '../cluster/kind-nodes.ts';

process.env.PATH = `${LAB_BIN}:${process.env.PATH}`;
undoOnExit();

export interface ScenarioContext {
  name: string;
  kube: Kube;
  ns: string;
  rec: Recorder;
  faults: Faults;
  settings: LiveSettings;
  /** Nodes whose kubelet journal goes into the diagnostics bundle on failure. */
  involvedNodes: Set<string>;
  /** Seconds spent waiting for Kubernetes (grace periods, tolerations, MySQL start). */
  waited: number;
}

export function kubectl(args: string[]) {
  return $`kubectl --kubeconfig ${KUBECONFIG_PATH} --context ${KUBE_CONTEXT} ${args}`.quiet();
}

/** Registers the hooks of one scenario; call inside `describe`. The getter is valid in tests. */
export function useScenario(name: string): () => ScenarioContext {
  let ctx: ScenarioContext | undefined;
  let failed = false;
  let startedAt = 0;
  let startedAtWall = 0;
  let story: StoryEntry[] = [];
  const verdicts: Verdict[] = [];

  before(async function () {
    this.timeout(120_000);
    startedAt = performance.now();
    startedAtWall = Date.now();
    story = beginStory();
    const kube = await connect();
    for (const u of await replayPending({ kube })) note(`repaired what an earlier run left: ${u}`);
    for (const s of await sweepStaleNamespaces(kube)) note(`swept namespace ${s} of an earlier run`);
    const ns = await createScenarioNamespace(kube, name);
    const rec = await new Recorder(kube, [...namespacedResources(ns), ...clusterResources]).start();
    ctx = {
      name,
      kube,
      ns,
      rec,
      faults: new Faults(kube),
      settings: await readLiveSettings(kube),
      involvedNodes: new Set(),
      waited: 0,
    };
    note(`namespace ${ns}; recording pods, PVCs, events, endpointslices, nodes, PVs`);
  });

  afterEach(function () {
    const test = this.currentTest;
    if (!test) return;
    if (test.state === 'failed') failed = true;
    verdicts.push({
      title: test.title,
      state: test.state ?? 'pending',
      at: Date.now(),
      ...(test.duration !== undefined ? { ms: test.duration } : {}),
      ...(test.err ? { message: test.err.message } : {}),
    });
  });

  after(async function () {
    this.timeout(180_000);
    if (!ctx) return;
    const total = (performance.now() - startedAt) / 1000;
    note(
      `time: ${total.toFixed(1)}s in all, ${ctx.waited.toFixed(1)}s waiting for Kubernetes (grace periods, tolerations, MySQL start), ${(total - ctx.waited).toFixed(1)}s harness and API calls`,
    );
    const errors: unknown[] = [];
    await ctx.faults.undoAll().catch((e) => errors.push(e));
    // A failed before/beforeEach hook skips the tests (no afterEach runs): it is a verdict too.
    for (const hook of failedHooks(this.test?.parent)) {
      failed = true;
      verdicts.push({ title: hook.title, state: 'failed', at: Date.now(), message: hook.err?.message });
    }
    const dir = join(ARTIFACTS_DIR, RUN_ID, name);
    endStory(story);
    writeScenarioFiles(dir, {
      meta: { name, run: RUN_ID, namespace: ctx.ns, startedAt: startedAtWall, endedAt: Date.now(), verdicts },
      events: ctx.rec.events,
      story,
      faults: ctx.faults.injected,
    });
    if (failed) await writeDiagnostics(ctx, dir).catch((e) => errors.push(e));
    ctx.rec.stop();
    if (!(process.env.LAB_KEEP === '1' || (failed && process.env.LAB_KEEP_ON_FAILURE === '1')))
      await deleteNamespace(ctx.kube, ctx.ns);
    else note(`kept namespace ${ctx.ns} (LAB_KEEP)`);
    if (errors.length) throw new Error(`cleanup of ${name} failed: ${errors.map(String).join('; ')}`);
  });

  return () => {
    if (!ctx) throw new Error(`scenario ${name} has no context: its before hook failed`);
    return ctx;
  };
}

/** Hooks of the suite that failed so far. Mocha keeps them per suite (getHooks, in its source but
 * not its types); its base reporter hands a failed runnable its error as `err`. */
function failedHooks(suite: Mocha.Suite | undefined): Array<Mocha.Hook & { err?: Error }> {
  const hooks = suite as unknown as
    { getHooks?: (type: string) => Array<Mocha.Hook & { err?: Error }> } | undefined;
  if (!hooks?.getHooks) return [];
  return ['beforeAll', 'beforeEach', 'afterEach']
    .flatMap((type) => hooks.getHooks!(type) ?? [])
    .filter((h) => h.state === 'failed');
}

async function writeDiagnostics(ctx: ScenarioContext, dir: string): Promise<void> {
  const dump = async (file: string, args: string[]) => {
    const r = await kubectl(args).nothrow();
    writeFileSync(join(dir, file), r.stdout + r.stderr);
  };
  await dump('objects.yaml', [
    'get',
    'pods,pvc,statefulsets,deployments,services,endpointslices',
    '-n',
    ctx.ns,
    '-o',
    'yaml',
  ]);
  await dump('pvs-nodes.yaml', ['get', 'pv,nodes', '-o', 'yaml']);
  await dump('events.txt', ['get', 'events', '-n', ctx.ns, '--sort-by=.lastTimestamp']);
  await dump('logs.txt', [
    'logs',
    '-n',
    ctx.ns,
    '-l',
    'app=mysql-sts',
    '--all-containers',
    '--prefix',
    '--tail=200',
  ]);
  for (const node of ctx.involvedNodes)
    writeFileSync(join(dir, `kubelet-${node}.log`), await kindNodes.kubeletJournal(node));
  note(`diagnostics in ${dir}`);
}

/** Creates objects in the scenario's namespace. */
export async function createAll(ctx: ScenarioContext, objects: KubernetesObject[]): Promise<void> {
  for (const o of objects) {
    o.metadata = { ...o.metadata, namespace: ctx.ns };
    await ctx.kube.objects.create(o);
  }
}

/** Times a wait on Kubernetes, for the per-scenario "waiting vs harness" split. */
export async function waiting<T>(ctx: ScenarioContext, work: Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work;
  } finally {
    ctx.waited += (performance.now() - t0) / 1000;
  }
}
