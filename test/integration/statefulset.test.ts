// The evidence assertions and the StatefulSet faults on real controller behaviour: a StatefulSet of
// pause pods (OrderedReady) is created, scaled down and rolled, and each order is judged from the
// watch events — and the same assertion is shown to fail on the same evidence when the claim is wrong.
import { expect } from 'chai';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import {
  creations,
  deletions,
  eachAfter,
  EvidenceError,
  orderedBy,
  readyTransitions,
} from '../../lib/observe/evidence.ts';
import { Faults } from '../../lib/faults/faults.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { namespacedResources, Recorder } from '../../lib/observe/recorder.ts';
import { until } from '../../lib/observe/waits.ts';
import { PAUSE_IMAGE, useCluster, useNamespace } from './fixture.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pendingUndos } from '../../lib/faults/journal.ts';

const STS = 'web';
/** Per pod: scheduling + sandbox + a preloaded image start (no probes: Ready once running). */
const PER_POD = 30;

function statefulSet(replicas: number): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: STS },
    spec: {
      replicas,
      serviceName: STS,
      podManagementPolicy: 'OrderedReady',
      selector: { matchLabels: { app: STS } },
      template: {
        metadata: { labels: { app: STS } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }],
        },
      },
    },
  };
}

describe('integration: ordinal evidence and StatefulSet faults', function () {
  const cluster = useCluster();
  const ns = useNamespace(cluster);
  let rec: Recorder;
  let faults: Faults;
  let dir: string;

  const pods = () => rec.objects<V1Pod>('pods').filter((p) => p.metadata?.labels?.app === STS);
  const readyCount = () => pods().filter((p) => isPodReady(p) && !p.metadata?.deletionTimestamp).length;
  const settled = (n: number, why: string, podOk: (p: V1Pod) => boolean = () => true) =>
    until(rec, () => pods().length === n && readyCount() === n && pods().every(podOk), {
      timeout: PER_POD * 3 + 10,
      why: `${STS}: exactly ${n} Ready pods ${why} (bound ${PER_POD}s a pod + 10s)`,
      describe: () =>
        pods()
          .map(
            (p) =>
              `  ${p.metadata?.name} ready=${isPodReady(p)} rev=${p.metadata?.labels?.['controller-revision-hash']}`,
          )
          .join('\n'),
    });

  before(async function () {
    this.timeout(30_000);
    dir = mkdtempSync(join(tmpdir(), 'lab-sts-'));
    rec = await new Recorder(cluster().kube, namespacedResources(ns())).start();
    faults = new Faults(cluster().kube, undefined, join(dir, 'journal.jsonl'));
    await cluster().kube.core.createNamespacedService({
      namespace: ns(),
      body: { metadata: { name: STS }, spec: { clusterIP: 'None', selector: { app: STS } } },
    });
  });
  after(async () => {
    await faults.undoAll();
    rec.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates 0, 1, 2, each only after the previous is Ready — and the wrong claim fails on the same events', async () => {
    const t0 = Date.now();
    await cluster().kube.apps.createNamespacedStatefulSet({ namespace: ns(), body: statefulSet(3) });
    await settled(3, 'after creation');
    const added = creations(rec.events, t0);
    const ready = readyTransitions(rec.events, t0);
    orderedBy([0, 1, 2], added, 'creation');
    orderedBy([0, 1, 2], ready, 'Ready');
    eachAfter(
      added.map((a, i) => ({ label: `${a.name} ADDED`, start: a.at, previousDone: ready[i - 1]?.at })),
    );
    expect(() => orderedBy([2, 1, 0], added, 'creation')).to.throw(EvidenceError, /saw 0,1,2 \(web-0@/);
    expect(() =>
      eachAfter([{ label: 'web-1 ADDED', start: added[1]!.at, previousDone: ready[1]!.at }]),
    ).to.throw(EvidenceError, /web-1 ADDED started at .* before the previous step finished/);
    console.log(
      `      ${added.map((a, i) => `${a.name} +${a.at - t0}ms ready +${ready[i]!.at - t0}ms`).join(', ')}`,
    );
  });

  it('scale-down deletes 2 then 1; the undo scales back up, 1 then 2', async () => {
    const t0 = Date.now();
    const undo = await faults.scale(ns(), STS, 1);
    await settled(1, 'after scaling to 1');
    orderedBy([2, 1], deletions(rec.events, t0), 'scale-down deletion');
    const t1 = Date.now();
    await undo();
    await settled(3, 'after the undo');
    orderedBy([1, 2], creations(rec.events, t1), 'scale-up creation');
    const sts = await cluster().kube.apps.readNamespacedStatefulSet({ namespace: ns(), name: STS });
    expect(sts.spec?.replicas).to.equal(3);
  });

  it('a rolling update replaces pods from the highest ordinal; the undo restores the template', async () => {
    const before = await cluster().kube.apps.readNamespacedStatefulSet({ namespace: ns(), name: STS });
    const t0 = Date.now();
    const undo = await faults.rollingUpdate(ns(), STS, (sts) => ({
      template: {
        ...sts.spec!.template,
        metadata: { ...sts.spec!.template.metadata, annotations: { 'statefulset-lab/rollout': 'one' } },
      },
    }));
    const rolled = (p: V1Pod) => p.metadata?.annotations?.['statefulset-lab/rollout'] === 'one';
    await settled(3, 'all from the new template', rolled);
    orderedBy([2, 1, 0], deletions(rec.events, t0), 'rolling-update deletion');
    expect(pendingUndos(join(dir, 'journal.jsonl')).map((e) => e.undo.action)).to.include(
      'patch-statefulset',
    );
    await undo();
    const restored = await cluster().kube.apps.readNamespacedStatefulSet({ namespace: ns(), name: STS });
    expect(restored.spec?.template.metadata?.annotations?.['statefulset-lab/rollout']).to.equal(undefined);
    expect(restored.spec?.template).to.deep.equal(before.spec?.template);
  });
});
