// Node faults on a real worker, and their undo whatever ends the run: the end of the test, Ctrl-C
// (SIGINT), an uncaught error, and kill -9 (then the next start's journal replay). Only one worker
// is faulted, never the control plane, and never a worker running another live run's pods. Every
// bound comes from the live settings (printed by the fixture); every figure measured is printed.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { V1Node } from '@kubernetes/client-node';
import { Faults, OUT_OF_SERVICE_TAINT } from '../../lib/faults/faults.ts';
import { processAlive } from '../../lib/cluster/lock.ts';
import { pendingUndos, replayPending } from '../../lib/faults/journal.ts';
import { acquireNodeFaultLock, LOCK_HOLDER_ENV, releaseNodeFaultLock } from '../../lib/cluster/lock.ts';
import { nodeReadyStatus } from '../../lib/observe/k8s-facts.ts';
import { isStale } from '../../lib/run/namespaces.ts';
import { kindNodes } from '../../lib/cluster/kind-nodes.ts';
import {
  FLANNEL_PUBLIC_IP,
  flannelSubnet,
  peerPodRoutes,
  podNetworkProblem,
} from '../../lib/cluster/pod-network.ts';
import { NAMESPACE_LABEL, REPO_ROOT, RUN_ID } from '../../lib/cluster/paths.ts';
import type { Recorder } from '../../lib/observe/recorder.ts';
import { bound } from '../../lib/cluster/settings.ts';
import { until } from '../../lib/observe/waits.ts';
import {
  exclusiveWorker,
  NODE_BIN,
  nodeRecorder,
  seconds,
  useCluster,
  type ClusterForTests,
} from './fixture.ts';

/** flanneld writes its subnet file right after announcing itself on the Node. */
const FLANNEL_SUBNET_BOUND = 10;
const CHILD = join(REPO_ROOT, 'test', 'integration', 'fixtures', 'interrupted-run.ts');
/** docker stop (10 s grace, then SIGKILL) + the child's start-up and API calls. */
const CHILD_STOPPED_BOUND = 60;
/** The child's undo on exit: docker start (+ unpause) and one API call. */
const CHILD_UNDO_BOUND = 60;

interface Child {
  process: ChildProcess;
  stopped: Promise<{ stopped: string; namespace: string; pid: number }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function runChild(worker: string, mode: string, journal: string): Child {
  const child = spawn(NODE_BIN, [CHILD, worker, mode], {
    cwd: REPO_ROOT,
    // The child faults under the lock this test holds (lent), and journals into a private file.
    env: { ...process.env, LAB_JOURNAL: journal, [LOCK_HOLDER_ENV]: String(process.pid) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  const stopped = new Promise<{ stopped: string; namespace: string; pid: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child did not stop ${worker} within ${CHILD_STOPPED_BOUND}s`)),
      CHILD_STOPPED_BOUND * 1000,
    );
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { stopped: string; namespace: string; pid: number });
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${e.code ?? e.signal}) before stopping ${worker}: ${e.stderr}`));
    });
  });
  stopped.catch(() => undefined);
  return { process: child, stopped, exited };
}

function bounded<T>(p: Promise<T>, secs: number, why: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${secs}s: ${why}`)), secs * 1000);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}

async function namespaceState(c: ClusterForTests, name: string): Promise<'active' | 'deleting' | 'gone'> {
  try {
    const ns = await c.kube.core.readNamespace({ name });
    return ns.metadata?.deletionTimestamp ? 'deleting' : 'active';
  } catch (err) {
    if ((err as { code?: number }).code === 404) return 'gone';
    throw err;
  }
}

describe('integration: node faults are undone, whatever ends the run', function () {
  const cluster = useCluster();
  let rec: Recorder;
  let dir: string;
  let journal: string;
  let worker: string;

  const node = () => rec.get<V1Node>('nodes', worker);
  const readyIs = (status: string, why: string, bound: { seconds: number; why: string }) =>
    until(rec, () => nodeReadyStatus(node()) === status && node(), {
      timeout: bound.seconds,
      why: `${worker} Ready=${status} ${why} (bound ${bound.seconds}s: ${bound.why})`,
      describe: () =>
        `  ${worker} Ready=${nodeReadyStatus(node())} taints=${JSON.stringify(node()?.spec?.taints ?? [])}`,
    });

  before(async function () {
    const lockWait = bound('NODE_FAULT_LOCK', 900);
    this.timeout((lockWait + 30) * 1000);
    // One run with a node faulted at a time: wait for any other, and keep them out until the end.
    await acquireNodeFaultLock('harness node-fault tests', lockWait);
    dir = mkdtempSync(join(tmpdir(), 'lab-faults-'));
    journal = join(dir, 'journal.jsonl');
    rec = await nodeRecorder(cluster().kube).start();
  });

  beforeEach(async function () {
    const b = cluster().bounds;
    this.timeout(
      (b.nodeReady.seconds + b.nodeUnknown.seconds + CHILD_STOPPED_BOUND + CHILD_UNDO_BOUND + 60) * 1000,
    );
    worker = await exclusiveWorker(cluster(), rec);
  });

  // Whatever a failed test left: undo it from the private journal, so the next test (and the lab)
  // finds the worker running and attached.
  afterEach(async function () {
    this.timeout(120_000);
    const left = await replayPending({ kube: cluster().kube, journalPath: journal, scope: 'all' });
    if (left.length) console.log(`      cleanup undid: ${left.join('; ')}`);
  });

  after(async function () {
    this.timeout(120_000);
    try {
      if (worker && rec) await readyIs('True', 'after the node-fault tests', cluster().bounds.nodeReady);
    } finally {
      rec?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      releaseNodeFaultLock();
    }
  });

  it('Ctrl-C in the middle of a node stop: the run undoes it, deletes its namespace, exits 130', async () => {
    const b = cluster().bounds;
    const child = runChild(worker, 'wait', journal);
    const info = await child.stopped;
    const t0 = performance.now();
    expect(await kindNodes.state(worker)).to.include({ running: false });
    await readyIs('Unknown', 'after its container stopped', b.nodeUnknown);
    const unknownAfter = seconds(t0);
    const tSig = performance.now();
    child.process.kill('SIGINT');
    const exit = await bounded(child.exited, CHILD_UNDO_BOUND, 'the interrupted run to undo and exit');
    const undoTook = seconds(tSig);
    expect(exit.code, exit.stderr).to.equal(130);
    expect(exit.stderr).to.match(/interrupted: undoing injected faults/);
    expect(await kindNodes.state(worker)).to.include({ running: true, paused: false, connected: true });
    expect(pendingUndos(journal), 'nothing left pending').to.deep.equal([]);
    expect(await namespaceState(cluster(), info.namespace)).to.be.oneOf(['deleting', 'gone']);
    await readyIs('True', 'again after the undo', b.nodeReady);
    console.log(
      `      SIGINT: Node Unknown ${unknownAfter} after the stop; child undid and exited in ${undoTook}; Node Ready ${seconds(tSig)} after SIGINT`,
    );
  });

  it('kill -9 in the middle of a node stop: the fault stays journaled, the next start restores the node', async () => {
    const b = cluster().bounds;
    const child = runChild(worker, 'wait', journal);
    const info = await child.stopped;
    const t0 = performance.now();
    await readyIs('Unknown', 'after its container stopped', b.nodeUnknown);
    const unknownAfter = seconds(t0);
    child.process.kill('SIGKILL');
    const exit = await bounded(child.exited, 10, 'the killed run to be gone');
    expect(exit.signal).to.equal('SIGKILL');
    // What kill -9 leaves: a stopped worker, its namespace, and the journal that says how to undo both.
    expect(await kindNodes.state(worker)).to.include({ running: false });
    expect(await namespaceState(cluster(), info.namespace)).to.equal('active');
    const pending = pendingUndos(journal);
    expect(pending.map((e) => e.undo.action)).to.deep.equal(['delete-namespace', 'start-node']);
    expect(pending.every((e) => e.pid === info.pid) && !processAlive(info.pid)).to.equal(true);
    const ns = await cluster().kube.core.readNamespace({ name: info.namespace });
    expect(isStale(ns), 'its namespace is stale for the sweep too').to.equal(true);
    expect(ns.metadata?.labels?.[NAMESPACE_LABEL]).to.not.equal(RUN_ID);

    // The next start.
    const tStart = performance.now();
    const undone = await replayPending({ kube: cluster().kube, journalPath: journal });
    const replayTook = seconds(tStart);
    expect(undone).to.have.length(2);
    expect(await kindNodes.state(worker)).to.include({ running: true, connected: true });
    expect(await namespaceState(cluster(), info.namespace)).to.be.oneOf(['deleting', 'gone']);
    expect(pendingUndos(journal)).to.deep.equal([]);
    await readyIs('True', 'again after the replay', b.nodeReady);
    console.log(
      `      SIGKILL: Node Unknown ${unknownAfter} after the stop; replay at next start took ${replayTook}; Node Ready ${seconds(tStart)} after the start`,
    );
  });

  for (const mode of ['throw', 'reject'] as const) {
    it(`an ${mode === 'throw' ? 'uncaught exception' : 'unhandled rejection'} in the middle of a node stop: undone, exit 1`, async () => {
      const child = runChild(worker, mode, journal);
      const info = await child.stopped;
      const exit = await bounded(child.exited, CHILD_UNDO_BOUND, 'the failing run to undo and exit');
      expect(exit.code, exit.stderr).to.equal(1);
      expect(exit.stderr).to.match(
        mode === 'throw' ? /uncaught error Error: a bug/ : /unhandled rejection Error: an unhandled/,
      );
      expect(await kindNodes.state(worker)).to.include({ running: true });
      expect(pendingUndos(journal)).to.deep.equal([]);
      expect(await namespaceState(cluster(), info.namespace)).to.be.oneOf(['deleting', 'gone']);
      await readyIs('True', 'after the undo', cluster().bounds.nodeReady);
    });
  }

  it('a partition cuts the worker off and the undo reconnects it with the same address', async () => {
    const b = cluster().bounds;
    const faults = new Faults(cluster().kube, kindNodes, journal);
    const before = await kindNodes.state(worker);
    const t0 = performance.now();
    await faults.partitionNode(worker);
    expect(await kindNodes.state(worker)).to.include({ running: true, connected: false });
    await readyIs('Unknown', 'while cut off', b.nodeUnknown);
    const unknownAfter = seconds(t0);
    const tUndo = performance.now();
    await faults.undoAll();
    const after = await kindNodes.state(worker);
    expect(after).to.include({ connected: true, ip: before.ip });
    // Ready is not enough: the node's pods must reach the other nodes' pods again.
    const peers = (await kindNodes.list()).length - 1;
    const routes = await peerPodRoutes(worker);
    expect(routes, `routes on ${worker} to other nodes' pod subnets`).to.have.length(peers);
    await readyIs('True', 'after reconnecting', b.nodeReady);
    expect(pendingUndos(journal)).to.deep.equal([]);
    console.log(
      `      partition: Node Unknown ${unknownAfter} after the cut; back on ${after.ip} and Ready ${seconds(tUndo)} after the undo`,
    );
  });

  it('a paused worker goes Unknown and comes back when unpaused', async () => {
    const b = cluster().bounds;
    const faults = new Faults(cluster().kube, kindNodes, journal);
    const t0 = performance.now();
    await faults.pauseNode(worker);
    expect(await kindNodes.state(worker)).to.include({ running: true, paused: true });
    await readyIs('Unknown', 'while frozen', b.nodeUnknown);
    const unknownAfter = seconds(t0);
    const tUndo = performance.now();
    await faults.undoAll();
    expect(await kindNodes.state(worker)).to.include({ paused: false });
    await readyIs('True', 'after unpausing', b.nodeReady);
    console.log(
      `      pause: Node Unknown ${unknownAfter} after the pause; Ready ${seconds(tUndo)} after unpausing`,
    );
  });

  it('a deleted Node object is registered again by the reboot of the undo, with a working pod network', async () => {
    const b = cluster().bounds;
    const faults = new Faults(cluster().kube, kindNodes, journal);
    const oldUid = node()!.metadata!.uid!;
    await faults.deleteNodeObject(worker);
    await until(rec, () => !node() && rec.history('nodes', worker).some((e) => e.type === 'DELETED'), {
      timeout: 30,
      why: `${worker} Node DELETED (no finalizers on Nodes: immediate)`,
    });
    const tUndo = performance.now();
    await faults.undoAll();
    const back = await readyIs('True', 'as a newly registered Node', b.nodeReady);
    expect(back.metadata?.uid).to.not.equal(oldUid);
    // The new registration may get another podCIDR; flanneld must have started anew to use it.
    const announced = await until(
      rec,
      () => (node()?.metadata?.annotations?.[FLANNEL_PUBLIC_IP] ? node() : undefined),
      {
        timeout: b.nodeReady.seconds,
        why: `flanneld on ${worker} announcing itself on the new Node (${FLANNEL_PUBLIC_IP})`,
      },
    );
    expect(await podNetworkProblem(announced, worker, FLANNEL_SUBNET_BOUND)).to.equal(undefined);
    const subnet = await flannelSubnet(worker);
    const cidr = announced.spec?.podCIDR ?? '';
    console.log(
      `      Node re-registered (new uid, podCIDR ${cidr}, flannel subnet ${subnet}) and Ready ${seconds(tUndo)} after the reboot`,
    );
  });

  it('the out-of-service taint is removed by its undo', async () => {
    const faults = new Faults(cluster().kube, kindNodes, journal);
    const has = () => (node()?.spec?.taints ?? []).some((t) => t.key === OUT_OF_SERVICE_TAINT);
    await faults.taintOutOfService(worker);
    await until(rec, () => has(), { timeout: 10, why: 'taint recorded' });
    await faults.undoAll();
    await until(rec, () => !has(), { timeout: 10, why: 'taint gone after the undo' });
    expect(pendingUndos(journal)).to.deep.equal([]);
  });
});
