// Fault-to-verdict latency: how long after Kubernetes decides a behaviour does the harness say so?
// For N pod deletions of mysql-0 it records when the new pod's Ready=True was written (the
// condition's lastTransitionTime, whole seconds, and the watch event's arrival), when the
// harness's event-driven `until` returned its verdict, and when a polling baseline (`kubectl get`
// every LAB_BENCH_POLL seconds, like 1 s in kuttl and 10 s in the Kubernetes e2e suite) saw it.
// Prints a table per run and p50/p95. Numbers, not assertions: this is a benchmark, not a test.
import { spawn } from 'node:child_process';
import type { V1Pod } from '@kubernetes/client-node';
import { isPodReady } from '../lib/observe/k8s-facts.ts';
import { KUBECONFIG_PATH, KUBE_CONTEXT } from '../lib/cluster/paths.ts';
import { until } from '../lib/observe/waits.ts';
import { closeRun, createAll, openRun } from '../lib/run/run.ts';
import { renderSeed } from '../behaviours/support/seed.ts';

const RUNS = Number(process.env.LAB_BENCH_RUNS ?? 10);
const POLL_SECONDS = Number(process.env.LAB_BENCH_POLL ?? 1);
const POD = 'mysql-0';

function pollUntilReady(ns: string, oldUid: string, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (Date.now() > deadline) return reject(new Error('polling baseline timed out'));
      const p = spawn('kubectl', [
        '--kubeconfig',
        KUBECONFIG_PATH,
        '--context',
        KUBE_CONTEXT,
        'get',
        'pod',
        '-n',
        ns,
        POD,
        '-o',
        'json',
      ]);
      let out = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString()));
      p.on('exit', () => {
        try {
          const pod = JSON.parse(out) as V1Pod;
          if (pod.metadata?.uid !== oldUid && isPodReady(pod)) return resolve(Date.now());
        } catch {
          // not there yet
        }
        setTimeout(tick, POLL_SECONDS * 1000);
      });
    };
    tick();
  });
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

const run = await openRun('bench');
const { kube, ns, rec, bounds } = run.ctx;
let failed = false;
try {
  const seed = renderSeed(ns, { replicas: 1 });
  await createAll(run.ctx, [seed.secret, seed.service, seed.statefulSet]);
  const ready = (other?: string) => {
    const p = rec.get<V1Pod>('pods', POD, ns);
    return p && p.metadata?.uid !== other && !p.metadata?.deletionTimestamp && isPodReady(p) ? p : undefined;
  };
  const start = bounds.mysqlStart;
  await until(rec, () => ready(), {
    timeout: start.seconds,
    why: `${POD} Ready (bound ${start.seconds}s: ${start.why})`,
  });
  console.log(`bench: ${RUNS} deletions of ${POD}; polling baseline every ${POLL_SECONDS}s`);
  console.log('run  event→verdict(ms)  event→poll(ms)  server→event(ms, 1 s grain)');
  const harness: number[] = [];
  const polling: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    const old = ready()!;
    const oldUid = old.metadata!.uid!;
    await kube.core.deleteNamespacedPod({ namespace: ns, name: POD });
    const polled = pollUntilReady(ns, oldUid, Date.now() + start.seconds * 1000);
    let eventAt = 0;
    const off = rec.onEvent((e) => {
      if (
        !eventAt &&
        e.resource === 'pods' &&
        e.name === POD &&
        e.uid !== oldUid &&
        isPodReady(e.object as V1Pod)
      )
        eventAt = e.at;
    });
    const pod = await until(rec, () => ready(oldUid), {
      timeout: start.seconds,
      why: `new ${POD} Ready (bound ${start.seconds}s: ${start.why})`,
    });
    const verdictAt = Date.now();
    off();
    const polledAt = await polled;
    const transition = pod.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    const serverAt = transition ? new Date(transition).getTime() : NaN;
    harness.push(verdictAt - eventAt);
    polling.push(polledAt - eventAt);
    console.log(
      `${String(i).padStart(3)}  ${String(verdictAt - eventAt).padStart(16)}  ${String(polledAt - eventAt).padStart(14)}  ${String(eventAt - serverAt).padStart(10)}`,
    );
  }
  console.log(`harness (watch + until): p50 ${pct(harness, 50)} ms, p95 ${pct(harness, 95)} ms`);
  console.log(`polling every ${POLL_SECONDS}s:       p50 ${pct(polling, 50)} ms, p95 ${pct(polling, 95)} ms`);
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
