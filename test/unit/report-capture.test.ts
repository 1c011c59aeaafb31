// What a scenario hands the run report: the story its console lines tell, and the log of the
// faults it injected with their undo times. No cluster: the fault log is checked on a stand-in
// client that only records the calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { beginStory, endStory, evidence, note, phase } from '../../lib/run/console.ts';
import { Faults } from '../../lib/faults/faults.ts';
import type { Kube } from '../../lib/cluster/kube.ts';
import type { NodeFaultProvider } from '../../lib/cluster/kind-nodes.ts';

function quietly<T>(fn: () => T): T {
  const log = console.log;
  console.log = () => undefined;
  try {
    return fn();
  } finally {
    console.log = log;
  }
}

describe('report capture: story and fault log', () => {
  it('collects phase, note and evidence with wall-clock times, only while a story is open', () => {
    quietly(() => note('before any story'));
    const story = beginStory();
    const before = Date.now();
    const row = { pod: 'mysql-0', ip: '10.244.1.5' };
    quietly(() => {
      phase('delete mysql-0');
      note('old pod DELETED +0.1s');
      evidence('identity', [row]);
    });
    row.ip = 'changed afterwards';
    endStory(story);
    quietly(() => note('after the story'));
    expect(story.map((e) => [e.kind, e.text])).to.deep.equal([
      ['phase', 'delete mysql-0'],
      ['note', 'old pod DELETED +0.1s'],
      ['evidence', 'identity'],
    ]);
    expect(story[0]!.at).to.be.within(before, Date.now());
    const shown = story[2]!;
    expect(shown.kind === 'evidence' && shown.rows).to.deep.equal([{ pod: 'mysql-0', ip: '10.244.1.5' }]);
  });

  it('a story opened inside another takes the lines until it is closed', () => {
    const outer = beginStory();
    quietly(() => note('outer 1'));
    const inner = beginStory();
    quietly(() => note('inner'));
    endStory(inner);
    quietly(() => note('outer 2'));
    endStory(outer);
    expect(outer.map((e) => e.text)).to.deep.equal(['outer 1', 'outer 2']);
    expect(inner.map((e) => e.text)).to.deep.equal(['inner']);
  });

  describe('Faults.injected', () => {
    let dir: string;
    const calls: string[] = [];
    const kube = {
      core: {
        deleteNamespacedPod: async (a: { name: string }) => calls.push(`delete ${a.name}`),
      },
      apps: {
        readNamespacedStatefulSet: async () => ({ spec: { replicas: 3 } }),
        patchNamespacedStatefulSet: async (a: { body: Array<{ value: unknown }> }) =>
          calls.push(`replicas ${String(a.body[0]!.value)}`),
      },
    } as unknown as Kube;
    const nodes = {} as NodeFaultProvider;

    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'faults-log-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('logs each fault with its injection time, stamps the undo once, and cannot be rewritten', async () => {
      const faults = new Faults(kube, nodes, join(dir, 'journal.jsonl'));
      const t0 = Date.now();
      await faults.deletePod('ns', 'mysql-0', { force: true });
      const undo = await faults.scale('ns', 'mysql', 1);
      let log = faults.injected;
      expect(log.map((f) => f.what)).to.deep.equal(['force delete pod mysql-0', 'scale ns/mysql 3 -> 1']);
      expect(log[0]).to.include({ instant: true });
      expect(log[1]!.at).to.be.within(t0, Date.now());
      expect(log[1]!.undoneAt).to.equal(undefined);

      await undo();
      const undoneAt = faults.injected[1]!.undoneAt!;
      expect(undoneAt).to.be.at.least(log[1]!.at);
      await faults.undoAll(); // already undone: neither patched again nor stamped again
      log = faults.injected;
      expect(log[1]!.undoneAt).to.equal(undoneAt);
      expect(calls).to.deep.equal(['delete mysql-0', 'replicas 1', 'replicas 3']);

      (log[1] as { what: string }).what = 'rewritten';
      expect(faults.injected[1]!.what).to.equal('scale ns/mysql 3 -> 1');
    });
  });
});
