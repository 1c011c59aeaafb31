// Scenario namespaces on the real cluster: labelled and journaled when made, deleted afterwards,
// and a sweep that removes what dead runs left but never a live run's namespace.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pendingUndos } from '../../lib/faults/journal.ts';
import {
  createScenarioNamespace,
  deleteNamespace,
  PID_ANNOTATION,
  SCENARIO_LABEL,
  sweepStaleNamespaces,
} from '../../lib/run/namespaces.ts';
import { NAMESPACE_LABEL, RUN_ID } from '../../lib/cluster/paths.ts';
import { useCluster } from './fixture.ts';

const SCENARIO = 'harness-sweep';

describe('integration: scenario namespaces', function () {
  const cluster = useCluster();
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'lab-ns-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is labelled with the run, annotated with its process, journaled until deleted', async () => {
    const journalPath = join(dir, 'journal.jsonl');
    const { kube } = cluster();
    const name = await createScenarioNamespace(kube, SCENARIO, { journalPath });
    const ns = await kube.core.readNamespace({ name });
    expect(ns.metadata?.labels).to.include({ [NAMESPACE_LABEL]: RUN_ID, [SCENARIO_LABEL]: SCENARIO });
    expect(ns.metadata?.annotations?.[PID_ANNOTATION]).to.equal(String(process.pid));
    expect(pendingUndos(journalPath).map((e) => e.undo)).to.deep.equal([
      { action: 'delete-namespace', namespace: name },
    ]);
    await deleteNamespace(kube, name);
    expect(pendingUndos(journalPath)).to.deep.equal([]);
    expect((await kube.core.readNamespace({ name })).metadata?.deletionTimestamp).to.not.equal(undefined);
  });

  it('the sweep deletes a dead run’s namespace and keeps a live run’s', async () => {
    const { kube } = cluster();
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    const make = async (name: string, run: string, pid: number) =>
      kube.core.createNamespace({
        body: {
          metadata: {
            name,
            labels: { [NAMESPACE_LABEL]: run, [SCENARIO_LABEL]: SCENARIO },
            annotations: { [PID_ANNOTATION]: String(pid) },
          },
        },
      });
    const suffix = Math.random().toString(16).slice(2, 6);
    const dead = `lab-${SCENARIO}-dead-${suffix}`;
    const live = `lab-${SCENARIO}-live-${suffix}`;
    await make(dead, 'an-old-run', deadPid);
    // Another run still going on this machine: our parent process stands in for it.
    await make(live, 'a-live-run', process.ppid);
    try {
      const swept = await sweepStaleNamespaces(kube, SCENARIO);
      expect(swept).to.include(dead).and.not.include(live);
      expect((await kube.core.readNamespace({ name: dead })).metadata?.deletionTimestamp).to.not.equal(
        undefined,
      );
      expect((await kube.core.readNamespace({ name: live })).metadata?.deletionTimestamp).to.equal(undefined);
    } finally {
      await deleteNamespace(kube, dead);
      await deleteNamespace(kube, live);
    }
  });
});
