// One conformance run on the lab cluster: prove the cluster is ours and no node is faulted, build
// upstream's e2e binary and (air-gapped) the specs' images, load those into the nodes, then run the
// focused specs with the cluster's own kubectl and read upstream's JUnit back. It changes nothing
// but what the specs create in their own namespaces (which they delete) and the images it loads
// (which it leaves: the next run finds them there).
import { spawn } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import * as k8s from '@kubernetes/client-node';
import {
  CLUSTER_NAME,
  KUBECONFIG_PATH,
  KUBE_CONTEXT,
  LAB_BIN,
  LAB_CACHE,
  NODE_FAULT_LOCK_PATH,
  REPO_ROOT,
} from '../cluster/paths.ts';
import { connect, type Kube } from '../cluster/kube.ts';
import { proveOwnership } from '../cluster/ownership.ts';
import { kubectl } from '../cluster/shell.ts';
import {
  chooseImages,
  labNodeContainers,
  loadOntoNodes,
  parseVersions,
  type ImageMode,
} from '../cluster/images.ts';
import { CONTROL_PLANE } from '../cluster/topology.ts';
import { acquireNodeFaultLock, processAlive, readLock, releaseNodeFaultLock } from '../cluster/lock.ts';
import { pendingUndos, type UndoAction } from '../faults/journal.ts';
import { EXPECTED_SPECS, e2eArgs, minorOf, parseJUnit, type SpecResult } from './suite.ts';

$.verbose = false;
process.env.PATH = `${LAB_BIN}:${process.env.PATH}`;

export class RefusedError extends Error {
  override name = 'RefusedError';
}

/** Undo actions that mean a node is (or may be) down, cut off, tainted or rebooting. */
const NODE_FAULTS: ReadonlySet<UndoAction['action']> = new Set([
  'start-node',
  'unpause-node',
  'reconnect-node',
  'reboot-node',
  'restart-kubelet',
  'remove-taint',
]);

export interface Prepared {
  kube: Kube;
  mode: ImageMode;
  nodes: string[];
  e2e: string;
  kubectl: string;
  images: string[];
  serverVersion: string;
  timings: Record<string, number>;
}

const log = (line: string) => console.log(`[conformance] ${line}`);

async function timed<T>(timings: Record<string, number>, what: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await work();
  timings[what] = (performance.now() - t0) / 1000;
  log(`${what}: ${timings[what].toFixed(1)}s`);
  return result;
}

/** Refuses while any node fault is journaled or a run holds the node-fault lock: the suite needs every node. */
export function refuseWhileNodesFaulted(): void {
  const faults = pendingUndos().filter((e) => NODE_FAULTS.has(e.undo.action));
  if (faults.length) {
    const list = faults
      .map(
        (e) =>
          `${e.what ?? e.undo.action} (pid ${e.pid ?? '?'}${e.pid && processAlive(e.pid) ? ', running' : ', gone'})`,
      )
      .join('; ');
    throw new RefusedError(
      `a node fault is journaled and not undone: ${list}. The suite needs every node schedulable. Wait for that run to end; a fault whose run is gone is repaired by the next scenario or lab start (npm run scenario).`,
    );
  }
  const holder = readLock(NODE_FAULT_LOCK_PATH);
  if (holder && processAlive(holder.pid) && holder.pid !== process.pid) {
    throw new RefusedError(
      `pid ${holder.pid} holds the node-fault lock (${holder.what}, since ${holder.at}): a node may be down. Wait for that run to end, then run this again.`,
    );
  }
}

/** Every node Ready, none cordoned, no taint beyond the control plane's NoSchedule one. */
async function refuseUnschedulableNodes(kube: Kube): Promise<void> {
  const problems: string[] = [];
  for (const node of (await kube.core.listNode()).items) {
    const name = node.metadata?.name ?? '?';
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    if (ready !== 'True') problems.push(`${name} is Ready=${ready ?? 'unknown'}`);
    if (node.spec?.unschedulable) problems.push(`${name} is cordoned`);
    for (const t of node.spec?.taints ?? [])
      if (t.key !== 'node-role.kubernetes.io/control-plane')
        problems.push(`${name} has taint ${t.key}:${t.effect}`);
  }
  if (problems.length)
    throw new RefusedError(
      `not every node is schedulable: ${problems.join('; ')}. The suite needs all nodes; run npm run cluster:up (it repairs a broken cluster) or wait for the run that faulted them.`,
    );
}

async function buildScript(script: string, args: string[] = []): Promise<string[]> {
  const r = await $({
    stdio: ['ignore', 'pipe', 'inherit'],
  })`bash ${join(REPO_ROOT, 'scripts/build', script)} ${args}`;
  return r.stdout.split('\n').filter(Boolean);
}

/** The cluster's own kubectl, as its control-plane node carries it (a read from the container). */
async function clusterKubectl(version: string): Promise<string> {
  const dir = join(LAB_CACHE, 'out', `e2e-${version}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'kubectl-from-node');
  await $`docker cp ${CONTROL_PLANE}:/usr/bin/kubectl ${path}`;
  return path;
}

/**
 * Everything before the suite runs: ownership, schedulable nodes, the e2e binary, the images on
 * every node, the cluster's kubectl. Refuses (RefusedError) with what to do.
 */
export async function prepare(): Promise<Prepared> {
  const timings: Record<string, number> = {};
  const versions = parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8'));
  const mode = chooseImages(process.env, versions).mode;
  const nodes = await labNodeContainers();
  if (!nodes.length)
    throw new RefusedError(`there is no cluster named ${CLUSTER_NAME}: run npm run cluster:up first.`);
  // Before anything is loaded or run: the node containers and the API server both say it is ours.
  await proveOwnership(nodes, 'conformance');
  const kube = await connect();
  refuseWhileNodesFaulted();
  await refuseUnschedulableNodes(kube);
  const serverVersion = (await kube.kc.makeApiClient(k8s.VersionApi).getCode()).gitVersion;
  const pinned = versions.K8S_VERSION ?? '';
  if (minorOf(serverVersion) !== minorOf(pinned))
    throw new RefusedError(
      `the cluster runs Kubernetes ${serverVersion}, the e2e binary is built for ${pinned} (scripts/versions.env): run the suite of the cluster's own version (set K8S_VERSION, or KIND_NODE_IMAGE to a ${pinned} node image) so the specs match.`,
    );
  log(`cluster ${CLUSTER_NAME} (${serverVersion}, ${nodes.length} nodes) is ours; images: ${mode}`);

  const e2e = await timed(timings, 'e2e binary (build or cache)', async () =>
    (await buildScript('e2e.sh')).at(-1)!,
  );
  log(`e2e binary: ${e2e} (${(statSync(e2e).size / 2 ** 20).toFixed(0)} MiB)`);
  const images = (await buildScript('e2e-images.sh', ['--list'])).filter((l) => !l.startsWith('['));
  // Our tags must be the ones this binary's specs ask for, or the kubelet would try to pull.
  const listed = new Set((await $`${e2e} --list-images`).stdout.split('\n').map((l) => l.trim()));
  const unknown = images.filter((i) => !listed.has(i));
  if (unknown.length)
    throw new RefusedError(
      `the e2e binary of ${pinned} does not use ${unknown.join(', ')}: update the tags in scripts/build/e2e-images.sh from test/utils/image/manifest.go of that version.`,
    );
  if (mode === 'airgapped') {
    await timed(timings, 'images (build or cache)', () => buildScript('e2e-images.sh'));
    const loaded = await timed(timings, `images onto ${nodes.length} nodes`, () =>
      loadOntoNodes(nodes, images),
    );
    log(`on every node: ${images.join(', ')} (loaded now: ${loaded.join(', ') || 'none'})`);
  } else {
    log(`stock images: the kubelets pull ${images.join(', ')} themselves`);
  }
  const kubectl = await clusterKubectl(pinned);
  return { kube, mode, nodes, e2e, kubectl, images, serverVersion, timings };
}

/** The specs the focus selects, from a dry run (nothing is created): must be exactly eight. */
/** The suite's arguments against the lab cluster, with its own kubectl. */
const argsFor = (p: Prepared, reportDir: string, dryRun = false) =>
  e2eArgs({ kubeconfig: KUBECONFIG_PATH, context: KUBE_CONTEXT, kubectl: p.kubectl, reportDir, dryRun });

export async function focusedSpecs(p: Prepared): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'lab-conformance-dry-'));
  try {
    const args = argsFor(p, dir, true);
    await $`${p.e2e} ${args}`.nothrow();
    const specs = parseJUnit(readFileSync(join(dir, 'junit_01.xml'), 'utf8')).map((s) => s.name);
    if (specs.length !== EXPECTED_SPECS)
      throw new Error(`the focus selects ${specs.length} specs, not ${EXPECTED_SPECS}:\n${specs.join('\n')}`);
    return specs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Outcome {
  results: SpecResult[];
  wallSeconds: number;
  exitCode: number;
  leftNamespaces: string[];
}

async function namespaces(kube: Kube): Promise<Map<string, string>> {
  const list = await kube.core.listNamespace();
  return new Map(list.items.map((n) => [n.metadata!.name!, n.status?.phase ?? '?']));
}

/**
 * Runs the suite; its output goes to the console and to <dir>/e2e.log, upstream's JUnit to
 * <dir>/junit_01.xml. Holds the node-fault lock meanwhile, so no lab run on this machine stops a
 * node under it (they wait).
 */
export async function runSuite(p: Prepared, dir: string): Promise<Outcome> {
  mkdirSync(dir, { recursive: true });
  await acquireNodeFaultLock('conformance suite (needs every node)', 5);
  const before = await namespaces(p.kube);
  const t0 = performance.now();
  let exitCode: number;
  try {
    const args = argsFor(p, dir);
    const out = createWriteStream(join(dir, 'e2e.log'));
    out.write(`$ ${p.e2e} ${args.join(' ')}\n`);
    const child = spawn(p.e2e, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        out.write(chunk);
        process.stdout.write(chunk);
      });
    }
    // Ctrl-C reaches the suite too (same process group); a SIGTERM sent to this process alone is
    // passed on. Either way ginkgo cleans up its namespaces, and this process waits for it.
    const onInt = () => log('interrupted: waiting for the suite to clean up its namespaces');
    const onTerm = () => {
      onInt();
      child.kill('SIGTERM');
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await new Promise<void>((resolve) => out.end(resolve));
  } finally {
    releaseNodeFaultLock();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  let results: SpecResult[] = [];
  try {
    results = parseJUnit(readFileSync(join(dir, 'junit_01.xml'), 'utf8'));
  } catch (err) {
    log(`no JUnit report from the suite (${(err as Error).message}); see ${join(dir, 'e2e.log')}`);
  }
  // The specs delete their namespaces as they end, the last one maybe not yet gone: wait for it
  // (a watch, bounded), then report what is still there. Other namespaces were never touched.
  const created = [...(await namespaces(p.kube)).keys()].filter((n) => !before.has(n));
  if (created.length)
    await kubectl([
      'wait',
      '--for=delete',
      ...created.map((n) => `namespace/${n}`),
      `--timeout=${process.env.LAB_CONFORMANCE_NAMESPACE_TIMEOUT ?? '180s'}`,
    ]).nothrow();
  const after = await namespaces(p.kube);
  const leftNamespaces = [...after].filter(([n]) => !before.has(n)).map(([n, phase]) => `${n} (${phase})`);
  writeFileSync(
    join(dir, 'summary.json'),
    JSON.stringify(
      {
        kubernetes: p.serverVersion,
        images: p.mode,
        e2e: p.e2e,
        wallSeconds,
        exitCode,
        prepareSeconds: p.timings,
        results,
        leftNamespaces,
      },
      null,
      2,
    ) + '\n',
  );
  return { results, wallSeconds, exitCode, leftNamespaces };
}
