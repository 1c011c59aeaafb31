// Waits against the real API server: woken by recorded events (latency measured), bounded, and
// failing with what was awaited and what was last seen.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { namespacedResources, Recorder } from '../../lib/observe/recorder.ts';
import { holds, InvariantBroken, until, WaitTimeout } from '../../lib/observe/waits.ts';
import { pausePod, useCluster, useNamespace } from './fixture.ts';

describe('integration: event-driven waits', function () {
  const cluster = useCluster();
  const ns = useNamespace(cluster);
  let rec: Recorder;

  before(async () => {
    rec = await new Recorder(cluster().kube, namespacedResources(ns())).start();
  });
  after(() => rec.stop());

  it('wakes on the event that makes the predicate true, not on a poll', async () => {
    let wakeups = 0;
    const waiting = until(
      rec,
      (event) => {
        if (event) wakeups++;
        return rec.get<V1Pod>('pods', 'w1', ns());
      },
      { timeout: 15, why: 'w1 recorded' },
    );
    const sent = performance.now();
    await cluster().kube.core.createNamespacedPod({ namespace: ns(), body: pausePod('w1') });
    const pod = await waiting;
    const latency = performance.now() - sent;
    expect(pod.metadata?.name).to.equal('w1');
    expect(wakeups, 'checked on events only').to.be.at.least(1);
    expect(latency, 'ms from the create call to the wait resolving').to.be.below(2000);
    console.log(`      resolved ${latency.toFixed(0)} ms after the create call, after ${wakeups} event(s)`);
  });

  it('resolves at once when the predicate already holds', async () => {
    const t0 = performance.now();
    await until(rec, () => rec.get('pods', 'w1', ns()), { timeout: 1, why: 'w1 known' });
    expect(performance.now() - t0).to.be.below(50);
  });

  it('times out at its bound with what it waited for and the last events seen', async () => {
    const t0 = performance.now();
    const err = await until(rec, () => rec.get('pods', 'never', ns()), {
      timeout: 2,
      why: 'pod "never" to exist (bound 2 s: a test of the message)',
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const waited = (performance.now() - t0) / 1000;
    expect(err).to.be.instanceOf(WaitTimeout);
    const msg = (err as WaitTimeout).message;
    expect(msg).to.match(/^timed out after 2\.\ds waiting for: pod "never" to exist \(bound 2 s/);
    expect(msg).to.match(/last seen:\n {2}\S+Z (ADDED|MODIFIED) pods\/w1 uid=/);
    expect(waited).to.be.within(2, 2.5);
    console.log(`      ${msg.split('\n').slice(0, 3).join(' | ')}`);
  });

  it('a custom describe shows the state the waiter cares about', async () => {
    const err = await until(rec, () => undefined, {
      timeout: 0.5,
      why: 'nothing (a test)',
      describe: () => `  w1 phase=${rec.get<V1Pod>('pods', 'w1', ns())?.status?.phase}`,
    }).catch((e: WaitTimeout) => e);
    expect(String((err as WaitTimeout).lastSeen)).to.match(/w1 phase=(Pending|Running)/);
  });

  it('holds() fails on the first event that breaks the invariant, quoting it', async () => {
    const watching = holds(
      rec,
      (e) => (e?.resource === 'pods' && e.name === 'intruder' ? 'a pod named intruder appeared' : undefined),
      { seconds: 20, why: 'no intruder', resources: ['pods'] },
    ).catch((e: unknown) => e);
    const created = await cluster().kube.core.createNamespacedPod({
      namespace: ns(),
      body: pausePod('intruder'),
    });
    const err = await watching;
    expect(err).to.be.instanceOf(InvariantBroken);
    expect((err as Error).message).to.match(
      /^no intruder: broken after \d+\.\ds of 20s — a pod named intruder appeared/,
    );
    expect((err as Error).message).to.include(`uid=${created.metadata!.uid!.slice(0, 8)}`);
  });

  it('holds() succeeds when the window passes without a violation', async () => {
    const window = await holds(rec, (e) => (e?.name === 'ghost' ? 'ghost appeared' : undefined), {
      seconds: 1,
      why: 'no ghost',
      resources: ['pods'],
    });
    expect(window.to - window.from).to.be.within(1000, 1500);
  });
});
