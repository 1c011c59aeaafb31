// Fault-to-verdict latency, measured the same way for every contender. The action: delete mysql-0;
// the deciding change: a new mysql-0 (another uid) Ready. Two references taken independently of
// every contender: the action's start, and the moment a raw watch in a process of its own (opened
// before the action) receives the deciding change. Contenders, all started and watching before
// the action: this harness (recorder + until), `kubectl wait` (watch-based), `kubectl get` every
// second, and Kyverno chainsaw's assert (v0.2.15, built from the Go module proxy). Each one pays
// its own process start and its own way of looking. Numbers, not assertions: a benchmark.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { $ } from 'zx';
import type { V1Pod } from '@kubernetes/client-node';
import { LAB_BIN, REPO_ROOT } from '../lib/cluster/paths.ts';
import { isPodReady } from '../lib/observe/k8s-facts.ts';
import { until } from '../lib/observe/waits.ts';
import { closeRun, createAll, openRun } from '../lib/run/run.ts';
import { renderWorkload } from '../behaviours/support/workload.ts';
import { chainsaw, harness, kubectlPoll, kubectlWait, type Contender } from './bench/contenders.ts';

const RUNS = Number(process.env.LAB_BENCH_RUNS ?? 20);
const POD = 'mysql-0';
process.env.PATH = `${LAB_BIN}:${process.env.PATH}`;

/** The raw watch: resolves once it is open; `readyAt` is when it saw `oldUid`'s successor Ready. */
function rawWatch(ns: string, oldUid: string) {
  const child = spawn(process.execPath, [`${REPO_ROOT}/scripts/bench/raw-watch.ts`, ns, POD]);
  let markOpen!: () => void;
  let markReady!: (at: number) => void;
  const open = new Promise<void>((r) => (markOpen = r));
  const readyAt = new Promise<number>((r) => (markReady = r));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'open') return markOpen();
    const e = JSON.parse(line) as { at: number; uid: string; ready: boolean };
    if (e.uid !== oldUid && e.ready) markReady(e.at);
  });
  return { open, readyAt, stop: () => child.kill() };
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const cell = (s: string | number, width = 22) => String(s).padStart(width);

const chainsawBin = (await $`bash ${REPO_ROOT}/scripts/build/chainsaw.sh`).stdout.trim();
const run = await openRun('bench');
const { kube, ns, rec, bounds } = run.ctx;
let failed = false;
try {
  await createAll(run.ctx, renderWorkload(ns, { replicas: 1 }).objects);
  const start = bounds.workloadStart;
  const readyPod = (other?: string) => {
    const p = rec.get<V1Pod>('pods', POD, ns);
    return p && p.metadata?.uid !== other && !p.metadata?.deletionTimestamp && isPodReady(p) ? p : undefined;
  };
  const why = (what: string) => `${what} (bound ${start.seconds}s: ${start.why})`;
  await until(rec, () => readyPod(), { timeout: start.seconds, why: why(`${POD} Ready`) });
  const contenders: Contender[] = [harness(rec), kubectlWait, kubectlPoll(1), chainsaw(chainsawBin)];
  console.log(`bench: ${RUNS} deletions of ${POD}; every contender watching before each delete`);
  for (const c of contenders) console.log(`  ${c.name.padEnd(18)} ${c.how}`);
  console.log(`run  delete→raw(s)${contenders.map((c) => cell(`${c.name} (ms)`)).join('')}`);
  const fromRaw = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const fromAction = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const rawSeconds: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    const oldUid = readyPod()!.metadata!.uid!;
    const raw = rawWatch(ns, oldUid);
    await raw.open;
    const target = { ns, pod: POD, oldUid, timeoutSeconds: start.seconds };
    const attempts = contenders.map((c) => c.start(target));
    await Promise.all(attempts.map((a) => a.watching));
    const actedAt = Date.now();
    await kube.core.deleteNamespacedPod({ namespace: ns, name: POD });
    const decided = await Promise.all(attempts.map((a) => a.decided));
    const reference = await raw.readyAt;
    raw.stop();
    attempts.forEach((a) => a.stop());
    rawSeconds.push((reference - actedAt) / 1000);
    contenders.forEach((c, j) => {
      fromRaw.get(c.name)!.push(decided[j]! - reference);
      fromAction.get(c.name)!.push((decided[j]! - actedAt) / 1000);
    });
    console.log(
      `${String(i).padStart(3)}  ${cell(((reference - actedAt) / 1000).toFixed(1), 12)}${decided.map((d) => cell(d - reference)).join('')}`,
    );
    // The next delete waits until the harness sees the new pod settled (it already decided it Ready).
    await until(rec, () => readyPod(oldUid), { timeout: start.seconds, why: why(`new ${POD} Ready`) });
  }
  console.log(
    `\nlatency after the raw watch saw the new pod Ready (ms), and after the delete (s), ${RUNS} runs:`,
  );
  console.log(`${'contender'.padEnd(18)}${cell('p50 ms')}${cell('p95 ms')}${cell('p50 s')}${cell('p95 s')}`);
  console.log(
    `${'raw watch'.padEnd(18)}${cell('0')}${cell('0')}${cell(pct(rawSeconds, 50).toFixed(1))}${cell(pct(rawSeconds, 95).toFixed(1))}`,
  );
  for (const c of contenders) {
    const [ms, s] = [fromRaw.get(c.name)!, fromAction.get(c.name)!];
    console.log(
      `${c.name.padEnd(18)}${cell(pct(ms, 50))}${cell(pct(ms, 95))}${cell(pct(s, 50).toFixed(1))}${cell(pct(s, 95).toFixed(1))}`,
    );
  }
} catch (err) {
  failed = true;
  throw err;
} finally {
  await closeRun(run, {
    verdicts: [{ title: 'bench', state: failed ? 'failed' : 'passed', at: Date.now() }],
    artifacts: false,
    waitGone: false,
  });
}
