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
import { holds, Inconclusive, InvariantBroken } from '../../lib/observe/waits.ts';
import { pausePod, useCluster, useNamespace } from './fixture.ts';
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
});
