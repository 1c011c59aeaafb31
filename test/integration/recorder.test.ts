// The recorder against the real API server: a watch opened from a List before the action, and
// recovery from what breaks watches (a dropped connection, a compacted version answered with 410,
// a silent stream) without losing or duplicating an event.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import {
  namespacedResources,
  Recorder,
  type RecordedEvent,
  type StreamNotice,
} from '../../lib/observe/recorder.ts';
import { until } from '../../lib/observe/waits.ts';
import { pausePod, seconds, useCluster, useNamespace } from './fixture.ts';

const POD_READY = 60; // a pause pod from a preloaded image: scheduling + sandbox + container start

function noDuplicates(events: RecordedEvent[]): void {
  const keys = events.map((e) => `${e.resource}|${e.uid}|${e.resourceVersion}|${e.type === 'DELETED'}`);
  const dupes = keys.filter((k, i) => keys.indexOf(k) !== i);
  expect(dupes, 'an object version recorded twice').to.deep.equal([]);
}

function waitNotice(rec: Recorder, match: (n: StreamNotice) => boolean, timeout: number, why: string) {
  return new Promise<StreamNotice>((resolve, reject) => {
    const found = rec.notices.find(match);
    if (found) return resolve(found);
    const timer = setTimeout(() => {
      off();
      reject(
        new Error(`no stream notice within ${timeout}s: ${why}; notices: ${JSON.stringify(rec.notices)}`),
      );
    }, timeout * 1000);
    const off = rec.onNotice((n) => {
      if (match(n)) {
        clearTimeout(timer);
        off();
        resolve(n);
      }
    });
  });
}

describe('integration: recorder on the real API server', function () {
  const cluster = useCluster();
  const ns = useNamespace(cluster);
  let rec: Recorder;

  beforeEach(async () => {
    rec = await new Recorder(cluster().kube, namespacedResources(ns()), { idleSeconds: 90 }).start();
  });
  afterEach(async () => {
    rec.stop();
    await cluster().kube.core.deleteCollectionNamespacedPod({ namespace: ns(), gracePeriodSeconds: 0 });
  });

  async function createPod(name: string): Promise<string> {
    const pod = await cluster().kube.core.createNamespacedPod({ namespace: ns(), body: pausePod(name) });
    return pod.metadata!.uid!;
  }

  it('records a pod from creation to Ready to deletion, from a watch opened before the action', async () => {
    const t0 = performance.now();
    const uid = await createPod('life');
    await until(rec, () => isPodReady(rec.get<V1Pod>('pods', 'life', ns())), {
      timeout: POD_READY,
      why: 'life Ready',
    });
    await cluster().kube.core.deleteNamespacedPod({ namespace: ns(), name: 'life' });
    await until(rec, () => rec.history('pods', 'life').some((e) => e.type === 'DELETED'), {
      timeout: 30,
      why: 'life DELETED after a graceful delete (grace 1 s)',
    });
    const h = rec.history('pods', 'life');
    expect(h[0]).to.include({ type: 'ADDED', uid, source: 'watch' });
    expect(h.at(-1)).to.include({ type: 'DELETED', uid });
    expect(h.map((e) => Number(e.resourceVersion))).to.satisfy((rvs: number[]) =>
      rvs.every((rv, i) => i === 0 || rv > rvs[i - 1]!),
    );
    noDuplicates(rec.events);
    console.log(`      pod life: ${h.length} events (${h.map((e) => e.type[0]).join('')}) in ${seconds(t0)}`);
  });

  it('watches again after every connection is dropped, and misses nothing made meanwhile', async () => {
    const streams = namespacedResources(ns()).length;
    const before = rec.stats.rewatches;
    rec.dropConnections();
    const uid = await createPod('after-drop');
    await until(rec, () => rec.get<V1Pod>('pods', 'after-drop', ns())?.metadata?.uid === uid, {
      timeout: 15,
      why: 'after-drop recorded by the re-opened watch',
    });
    expect(rec.stats.rewatches - before).to.be.at.least(streams);
    expect(rec.history('pods', 'after-drop').filter((e) => e.type === 'ADDED')).to.have.length(1);
    noDuplicates(rec.events);
  });

  it('a watch held down while pods change catches up from its resourceVersion (the server replays)', async () => {
    await createPod('gap-a');
    await until(rec, () => rec.get('pods', 'gap-a', ns()), { timeout: 15, why: 'gap-a recorded' });
    rec.hold('pods');
    const uidB = await createPod('gap-b');
    await cluster().kube.core.deleteNamespacedPod({ namespace: ns(), name: 'gap-a', gracePeriodSeconds: 0 });
    const countWhileHeld = rec.history('pods', 'gap-b').length;
    rec.release('pods');
    await until(
      rec,
      () => rec.get<V1Pod>('pods', 'gap-b', ns())?.metadata?.uid === uidB && !rec.get('pods', 'gap-a', ns()),
      { timeout: 15, why: 'gap-b present and gap-a gone after the re-watch' },
    );
    expect(countWhileHeld, 'nothing reached the held stream').to.equal(0);
    const replayed = rec.history('pods').filter((e) => e.name === 'gap-b' || e.type === 'DELETED');
    expect(
      replayed.every((e) => e.source === 'watch'),
      'replayed by the server, not re-listed',
    ).to.equal(true);
    noDuplicates(rec.events);
  });

  it('on 410 Gone from the server it re-lists: a pod recreated under the same name is DELETED old + ADDED new', async () => {
    const oldUid = await createPod('same-name');
    await until(rec, () => rec.get('pods', 'same-name', ns()), { timeout: 15, why: 'same-name recorded' });
    const relistsBefore = rec.stats.relists;
    rec.hold('pods', { gone: true });
    await cluster().kube.core.deleteNamespacedPod({
      namespace: ns(),
      name: 'same-name',
      gracePeriodSeconds: 0,
    });
    // The name is free once the API object is gone; a StatefulSet would do the same.
    let newUid = '';
    for (let attempt = 0; !newUid; attempt++) {
      newUid = await createPod('same-name').catch((err: { code?: number }) => {
        if (err.code !== 409 || attempt > 50) throw err;
        return '';
      });
    }
    const gone = waitNotice(
      rec,
      (n) => n.resource === 'pods' && n.what === 'gone',
      15,
      '410 from the server',
    );
    rec.release('pods');
    const notice = await gone;
    await until(rec, () => rec.get<V1Pod>('pods', 'same-name', ns())?.metadata?.uid === newUid, {
      timeout: 15,
      why: 'the new same-name recorded after the re-list',
    });
    expect(notice.detail, 'the server said why').to.match(/too old resource version/);
    expect(rec.stats.relists).to.be.greaterThan(relistsBefore);
    const relisted = rec.history('pods', 'same-name').filter((e) => e.relisted);
    expect(relisted.map((e) => `${e.type} ${e.uid}`)).to.deep.equal([`DELETED ${oldUid}`, `ADDED ${newUid}`]);
    noDuplicates(rec.events);
    console.log(`      410: "${notice.detail}"; recovered by re-list: ${relisted.length} relisted events`);
  });

  it('restarts a silent watch after its idle limit and keeps recording', async () => {
    rec.stop();
    const quiet = await new Recorder(cluster().kube, namespacedResources(ns()), {
      idleSeconds: 2,
      watchSeconds: 300,
    }).start();
    try {
      const t0 = performance.now();
      const idle = (n: StreamNotice) => n.what === 'idle' && n.resource === 'persistentvolumeclaims';
      await waitNotice(quiet, idle, 10, 'first idle restart of the PVC watch');
      await waitNotice(
        quiet,
        (n) => idle(n) && quiet.notices.filter(idle).length >= 2,
        10,
        'second idle restart',
      );
      const elapsed = (performance.now() - t0) / 1000;
      const pvc = await cluster().kube.core.createNamespacedPersistentVolumeClaim({
        namespace: ns(),
        body: {
          metadata: { name: 'quiet-claim' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } } },
        },
      });
      await until(quiet, () => quiet.get('persistentvolumeclaims', 'quiet-claim', ns()), {
        timeout: 10,
        why: 'a claim created after two idle restarts is still recorded',
      });
      expect(quiet.history('persistentvolumeclaims', 'quiet-claim')[0]?.uid).to.equal(pvc.metadata?.uid);
      expect(elapsed, 'two idle restarts of 2 s').to.be.within(3.5, 10);
      console.log(`      two idle restarts in ${elapsed.toFixed(1)}s with a 2 s idle limit`);
    } finally {
      quiet.stop();
      await cluster().kube.core.deleteCollectionNamespacedPersistentVolumeClaim({ namespace: ns() });
    }
  });
});
