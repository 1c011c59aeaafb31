// The disturbance suite: while a verdict is being formed, the harness's connections to the API
// server are disturbed the way real networks and clusters do it — stalled silently, reset, cut off
// by a 410, the API server paused — and each verdict must stay right or fail as inconclusive with
// the reason. Never a wrong pass. The recorder talks through a TCP proxy (stall-proxy.ts); the
// changes it must not miss are made with a direct client.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { $ } from 'zx';
import type { Kube } from '../../lib/cluster/kube.ts';
import { CONTROL_PLANE } from '../../lib/cluster/topology.ts';
import { namespacedResources, Recorder } from '../../lib/observe/recorder.ts';
import { holds, Inconclusive, InvariantBroken, until } from '../../lib/observe/waits.ts';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { eachAfter } from '../../lib/observe/evidence.ts';
import type { RunContext } from '../../lib/run/run.ts';
import { onLiveWatch, watched } from '../../behaviours/support/scale.ts';
import { pausePod, PAUSE_IMAGE, useCluster, useNamespace } from './fixture.ts';
import { stallProxy, type StallProxy } from './stall-proxy.ts';

const WINDOW = 6;

function kubeOf(kc: k8s.KubeConfig): Kube {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}

/** How a wait ended: 'pass', or the error's class and message. */
async function outcome(p: Promise<unknown>): Promise<{ verdict: string; message: string }> {
  return p.then(
    () => ({ verdict: 'pass', message: '' }),
    (err: Error) => ({ verdict: err.name, message: err.message }),
  );
}

const seconds = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('integration: disturbances while a verdict is formed (never a wrong pass)', function () {
  this.timeout(120_000);
  const cluster = useCluster();
  const ns = useNamespace(cluster, 'disturbance');
  let proxy: StallProxy;
  let rec: Recorder;
  let n = 0;
  let ghost: string;

  beforeEach(async () => {
    proxy = await stallProxy(cluster().kube.kc);
    rec = await new Recorder(kubeOf(proxy.kc), namespacedResources(ns())).start();
    ghost = `ghost-${++n}`;
  });
  afterEach(async () => {
    rec.stop();
    await proxy.close();
  });

  /** "No pod `ghost` appears" for WINDOW seconds: the shape of every no-replacement verdict. */
  const noGhost = () =>
    holds(rec, () => (rec.get('pods', ghost, ns()) ? `${ghost} appeared` : undefined), {
      seconds: WINDOW,
      why: `no pod ${ghost} (a test window of ${WINDOW}s)`,
      resources: ['pods'],
    });
  const createGhost = () =>
    cluster().kube.core.createNamespacedPod({ namespace: ns(), body: pausePod(ghost) });

  it('a silently stalled watch, and a pod appears meanwhile: not a pass', async () => {
    const verdict = outcome(noGhost());
    await seconds(1000); // inside the window, after the watch is open: a point in time, not a wait for an event
    proxy.stall();
    await createGhost();
    const v = await verdict;
    console.log(`      ${v.verdict}: ${v.message.split('\n')[0]}`);
    expect(v.verdict, v.message).to.be.oneOf([Inconclusive.name, InvariantBroken.name]);
    proxy.resume();
  });

  it('a silently stalled watch while nothing changes: a pass, confirmed by a fresh List', async () => {
    const verdict = outcome(noGhost());
    await seconds(1000);
    proxy.stall();
    const v = await verdict;
    console.log(`      ${v.verdict}${v.message ? `: ${v.message.split('\n')[0]}` : ''}`);
    expect(v.verdict, v.message).to.equal('pass');
    proxy.resume();
  });

  it('a watch reset (RST) inside the window: inconclusive', async () => {
    const verdict = outcome(noGhost());
    await seconds(1000);
    proxy.reset();
    const v = await verdict;
    console.log(`      ${v.verdict}: ${v.message.split('\n')[0]}`);
    expect(v.verdict, v.message).to.equal(Inconclusive.name);
    expect(v.message).to.match(/inconclusive/);
  });

  it('a 410 inside the window (the watch must re-list): inconclusive', async () => {
    const verdict = outcome(noGhost());
    await seconds(1000);
    rec.forceGone('pods');
    await createGhost();
    const v = await verdict;
    console.log(`      ${v.verdict}: ${v.message.split('\n')[0]}`);
    expect(v.verdict, v.message).to.be.oneOf([Inconclusive.name, InvariantBroken.name]);
    expect(v.verdict, 'a re-list rebuilds events: never a verdict from them').to.not.equal('pass');
  });

  it('the API server paused and resumed, a pod appearing right after: not a pass', async () => {
    const verdict = outcome(noGhost());
    await seconds(1000);
    await $`docker pause ${CONTROL_PLANE}`;
    try {
      await seconds(3000); // the pause itself is the disturbance: its length is the test's choice
    } finally {
      await $`docker unpause ${CONTROL_PLANE}`;
    }
    await createGhost();
    const v = await verdict;
    console.log(`      ${v.verdict}: ${v.message.split('\n')[0]}`);
    expect(v.verdict, v.message).to.be.oneOf([Inconclusive.name, InvariantBroken.name]);
  });

  it('an invariant that throws rejects the wait instead of being logged and ignored', async () => {
    const buggy = (e?: { name: string }) => {
      if (e?.name === ghost) throw new TypeError('a bug in the invariant');
      return undefined;
    };
    const verdict = outcome(
      holds(rec, buggy, { seconds: WINDOW, why: 'a buggy invariant', resources: ['pods'] }),
    );
    await createGhost();
    const v = await verdict;
    console.log(`      ${v.verdict}: ${v.message.split('\n')[0]}`);
    expect(v.verdict, v.message).to.equal('TypeError');
  });

  /** A StatefulSet of two pause pods (Ready as soon as they run), created at 0 replicas. */
  const pauseSet = (name: string, podManagementPolicy: 'OrderedReady' | 'Parallel'): V1StatefulSet => ({
    metadata: { name },
    spec: {
      replicas: 0,
      serviceName: name,
      podManagementPolicy,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }],
        },
      },
    },
  });
  const ctxOf = (r: Recorder) => ({ rec: r, ns: ns() }) as unknown as RunContext;

  /**
   * Scales a set 0 → 2 while the recorder's connection is stalled (or its watch lost to a 410),
   * resumes once both pods are Ready
   * (seen by a second recorder on a direct connection), and judges "pod 1 ADDED only after pod 0
   * Ready" with the ordinals behaviour's own judgement (onLiveWatch, eachAfter).
   */
  async function orderThrough(
    disturbance: 'stall' | '410',
    name: string,
    policy: 'OrderedReady' | 'Parallel',
  ) {
    const { kube, bounds } = cluster();
    await kube.apps.createNamespacedStatefulSet({ namespace: ns(), body: pauseSet(name, policy) });
    const t0 = Date.now();
    if (disturbance === 'stall') proxy.stall();
    else rec.hold('pods', { gone: true }); // its next watch meets 410 Gone and must re-list
    const body = [{ op: 'replace', path: '/spec/replicas', value: 2 }];
    await kube.apps.patchNamespacedStatefulSet({ name, namespace: ns(), body });
    const direct = await new Recorder(kube, namespacedResources(ns())).start();
    try {
      await until(direct, () => watched(ctxOf(direct), name, t0).ready.length === 2, {
        timeout: bounds.podStart.seconds,
        why: `${name}: 2 pods Ready (bound podStart: ${bounds.podStart.why})`,
      });
    } finally {
      direct.stop();
    }
    if (disturbance === 'stall') proxy.resume();
    else rec.release('pods');
    await until(rec, () => watched(ctxOf(rec), name, t0).ready.length === 2, {
      timeout: 30,
      why: 'the resumed recorder catches up (a test bound: the server replays at once)',
    });
    return outcome(
      Promise.resolve().then(() => {
        const w = watched(ctxOf(rec), name, t0);
        onLiveWatch(w);
        const pod0Ready = w.ready.find((m) => m.name === `${name}-0`);
        const label = `${name}-1 ADDED`;
        eachAfter([{ label, start: w.added[1]!.at, previousDone: pod0Ready?.at ?? Infinity }]);
      }),
    );
  }

  it('an order window with a stalled watch, OrderedReady: the right order or inconclusive', async () => {
    const v = await orderThrough('stall', 'ordered', 'OrderedReady');
    console.log(`      ${v.verdict}${v.message ? `: ${v.message.split('\n')[0]}` : ''}`);
    expect(v.verdict, v.message).to.be.oneOf(['pass', Inconclusive.name]);
  });

  it('an order window with a stalled watch, Parallel: never a pass for an order that did not happen', async () => {
    const v = await orderThrough('stall', 'parallel', 'Parallel');
    console.log(`      ${v.verdict}: ${v.message.split('\n')[0]}`);
    expect(v.verdict, v.message).to.be.oneOf(['EvidenceError', Inconclusive.name]);
  });

  it('an order window cut by a 410 (re-listed events): inconclusive, even where the order looks right', async () => {
    const v = await orderThrough('410', 'relisted', 'Parallel');
    console.log(`      ${v.verdict}: ${v.message.split('\n')[0]}`);
    expect(v.verdict, v.message).to.equal(Inconclusive.name);
  });
});
