// The failure bundle, collected from the real cluster: every piece a reader needs is there, and a
// piece that cannot be had is written down instead of ending the collection.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { collectDiagnostics } from '../../lib/run/diagnostics.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { namespacedResources, Recorder } from '../../lib/observe/recorder.ts';
import { until } from '../../lib/observe/waits.ts';
import { pausePod, useCluster, useNamespace } from './fixture.ts';

describe('integration: diagnostics bundle', function () {
  const cluster = useCluster();
  const ns = useNamespace(cluster);
  let dir: string;
  let rec: Recorder;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-diag-'));
    rec = await new Recorder(cluster().kube, namespacedResources(ns())).start();
    await cluster().kube.core.createNamespacedPod({ namespace: ns(), body: pausePod('diag') });
    await until(rec, () => isPodReady(rec.get<V1Pod>('pods', 'diag', ns())), {
      timeout: 60,
      why: 'diag Ready',
    });
  });
  after(() => {
    rec.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes timeline, YAML, events, logs and the kubelet journal of the involved node', async () => {
    const node = rec.get<V1Pod>('pods', 'diag', ns())!.spec!.nodeName!;
    const files = await collectDiagnostics({
      kube: cluster().kube,
      namespace: ns(),
      dir,
      rec,
      nodes: [node, 'no-such-node'],
    });
    expect(files).to.include.members([
      'timeline.json',
      'pods.yaml',
      'pvcs.yaml',
      'statefulsets.yaml',
      'pvs.yaml',
      'nodes.yaml',
      'events.txt',
      'logs/diag_pause.log',
      `kubelet-${node}.log`,
    ]);
    const timeline = JSON.parse(readFileSync(join(dir, 'timeline.json'), 'utf8')) as Array<{
      name: string;
      type: string;
    }>;
    expect(timeline.some((r) => r.name === 'diag' && r.type === 'ADDED')).to.equal(true);
    expect(readFileSync(join(dir, 'pods.yaml'), 'utf8')).to.match(/name: diag\n/);
    expect(readFileSync(join(dir, 'nodes.yaml'), 'utf8')).to.include(node);
    expect(readFileSync(join(dir, 'events.txt'), 'utf8')).to.match(/Scheduled Pod\/diag/);
    expect(readFileSync(join(dir, `kubelet-${node}.log`), 'utf8')).to.match(/kubelet/);
    expect(files).to.not.include('kind-logs/');
    // The unknown node's journal could not be had: noted, not fatal.
    expect(existsSync(join(dir, 'kubelet-no-such-node.log')), 'an empty journal is still written').to.equal(
      true,
    );
  });

  it('adds every node’s full logs on request (kind export logs)', async function () {
    this.timeout(120_000);
    const sub = join(dir, 'all');
    const files = await collectDiagnostics({
      kube: cluster().kube,
      namespace: ns(),
      dir: sub,
      allNodeLogs: true,
    });
    expect(files).to.include('kind-logs/');
    expect(existsSync(join(sub, 'kind-logs', 'statefulset-lab-worker', 'kubelet.log'))).to.equal(true);
  });
});
