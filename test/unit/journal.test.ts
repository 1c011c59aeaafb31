import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  journaled,
  parseJournal,
  pendingOf,
  pendingUndos,
  replayPending,
  selectPending,
  type PendingEntry,
} from '../../lib/faults/journal.ts';
import type { NodeFaultProvider, NodeState } from '../../lib/cluster/kind-nodes.ts';
import { processAlive } from '../../lib/cluster/lock.ts';

/** A provider that only writes down what it was asked: the journal's logic is under test here, the
 * real Docker provider is exercised by the integration tests. */
function recordingProvider(failOn?: string) {
  const calls: string[] = [];
  const act = (name: string) => async (node: string, ip?: string) => {
    if (failOn === `${name} ${node}`) throw new Error(`${name} ${node} failed`);
    calls.push(ip ? `${name} ${node} ${ip}` : `${name} ${node}`);
  };
  const state: NodeState = { running: true, paused: false, connected: true, ip: '172.18.0.9' };
  const provider: NodeFaultProvider = {
    name: 'docker',
    command: (fault, node) => `${fault} ${node}`,
    list: async () => [],
    stop: (node) => act('stop')(node),
    start: act('start'),
    pause: act('pause'),
    unpause: act('unpause'),
    disconnect: async (node) => {
      calls.push(`disconnect ${node}`);
      return state.ip;
    },
    reconnect: async (node, ip) => {
      calls.push(`reconnect ${node} ${ip}`);
    },
    reboot: act('reboot'),
    state: async () => state,
    processes: async () => 0,
    kubeletJournal: async () => '',
    exportLogs: async () => undefined,
  };
  return { calls, provider, state };
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

describe('journal: undo written before acting, replayed after a crash', () => {
  let dir: string;
  let journalPath: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lab-journal-'));
    journalPath = join(dir, 'journal.jsonl');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the undo before the fault acts, and marks it done after the undo', async () => {
    const { calls, provider } = recordingProvider();
    let seenDuringAct: PendingEntry[] = [];
    const undo = await journaled(
      'stop node w1',
      { action: 'start-node', node: 'w1' },
      async () => {
        seenDuringAct = pendingUndos(journalPath);
        await provider.stop('w1');
      },
      { nodes: provider, journalPath },
    );
    expect(seenDuringAct.map((e) => e.undo)).to.deep.equal([{ action: 'start-node', node: 'w1' }]);
    expect(seenDuringAct[0]!.pid).to.equal(process.pid);
    expect(pendingUndos(journalPath)).to.have.length(1);
    await undo();
    await undo(); // idempotent
    expect(calls).to.deep.equal(['stop w1', 'start w1']);
    expect(pendingUndos(journalPath)).to.deep.equal([]);
  });

  it('undoes at once when the fault itself fails half-way, then rethrows', async () => {
    const { calls, provider } = recordingProvider('pause w1');
    let failure: unknown;
    await journaled('pause node w1', { action: 'unpause-node', node: 'w1' }, () => provider.pause('w1'), {
      nodes: provider,
      journalPath,
    }).catch((e) => (failure = e));
    expect(String(failure)).to.match(/pause w1 failed/);
    expect(calls).to.deep.equal(['unpause w1']);
    expect(pendingUndos(journalPath)).to.deep.equal([]);
  });

  it('skips a line cut by kill -9 mid-write and applies later done marks', () => {
    const text = [
      JSON.stringify({
        id: '1',
        state: 'pending',
        undo: { action: 'start-node', node: 'a' },
        pid: 1,
        at: 't',
      }),
      JSON.stringify({
        id: '2',
        state: 'pending',
        undo: { action: 'start-node', node: 'b' },
        pid: 1,
        at: 't',
      }),
      JSON.stringify({ id: '1', state: 'done', at: 't' }),
      '{"id":"3","state":"pend',
    ].join('\n');
    const entries = parseJournal(text);
    expect(entries).to.have.length(3);
    expect(pendingOf(entries).map((e) => e.id)).to.deep.equal(['2']);
  });

  it('selects only orphans at start: entries of live processes belong to a run still going', () => {
    const mk = (id: string, pid?: number): PendingEntry => ({
      id,
      state: 'pending',
      undo: { action: 'start-node', node: id },
      at: 't',
      ...(pid === undefined ? {} : { pid }),
    });
    const pending = [mk('legacy'), mk('dead', 111), mk('alive', 222), mk('mine', 333)];
    const alive = (pid: number) => pid === 222 || pid === 333;
    expect(selectPending(pending, 'orphans', alive, 333).map((e) => e.id)).to.deep.equal(['legacy', 'dead']);
    expect(selectPending(pending, 'mine', alive, 333).map((e) => e.id)).to.deep.equal(['mine']);
    expect(selectPending(pending, 'all', alive, 333)).to.have.length(4);
  });

  it('tells a live process from a dead one', () => {
    expect(processAlive(process.pid)).to.equal(true);
    expect(processAlive(deadPid())).to.equal(false);
  });

  it('replays a dead run’s faults newest first, marks them done, and has nothing left to do after', async () => {
    const dead = deadPid();
    const w = (o: object) => appendFileSync(journalPath, JSON.stringify(o) + '\n');
    w({
      id: 'a',
      state: 'pending',
      what: 'stop node w1',
      undo: { action: 'start-node', node: 'w1' },
      pid: dead,
      at: 't',
    });
    w({
      id: 'b',
      state: 'pending',
      what: 'cut w1',
      undo: { action: 'reconnect-node', node: 'w1', ip: '172.18.0.4' },
      pid: dead,
      at: 't',
    });
    w({
      id: 'c',
      state: 'pending',
      what: 'live run',
      undo: { action: 'start-node', node: 'w2' },
      pid: process.ppid,
      at: 't',
    });
    const { calls, provider } = recordingProvider();
    const undone = await replayPending({ nodes: provider, journalPath });
    expect(calls).to.deep.equal(['reconnect w1 172.18.0.4', 'start w1']);
    expect(undone).to.have.length(2);
    expect(pendingUndos(journalPath).map((e) => e.id)).to.deep.equal(['c']);
    expect(await replayPending({ nodes: provider, journalPath })).to.deep.equal([]);
    expect(readFileSync(journalPath, 'utf8').trim().split('\n')).to.have.length(5);
  });

  it('tries every undo; a failing one stays pending and is reported', async () => {
    const dead = deadPid();
    const w = (o: object) => appendFileSync(journalPath, JSON.stringify(o) + '\n');
    w({
      id: 'a',
      state: 'pending',
      what: 'stop w1',
      undo: { action: 'start-node', node: 'w1' },
      pid: dead,
      at: 't',
    });
    w({
      id: 'b',
      state: 'pending',
      what: 'stop w2',
      undo: { action: 'start-node', node: 'w2' },
      pid: dead,
      at: 't',
    });
    const { calls, provider } = recordingProvider('start w2');
    let failure: unknown;
    await replayPending({ nodes: provider, journalPath }).catch((e) => (failure = e));
    expect(String(failure)).to.match(/could not undo .*stop w2: Error: start w2 failed/);
    expect(calls).to.deep.equal(['start w1']);
    expect(pendingUndos(journalPath).map((e) => e.id)).to.deep.equal(['b']);
  });

  it('the undo of a Node deletion reboots the node on its registered address', async () => {
    const { calls, provider } = recordingProvider();
    const undo = await journaled(
      'delete Node w1',
      { action: 'reboot-node', node: 'w1', ip: '172.18.0.7' },
      async () => undefined,
      { nodes: provider, journalPath },
    );
    await undo();
    expect(calls).to.deep.equal(['reboot w1 172.18.0.7']);
  });

  it('a restart-kubelet entry of an older version is replayed as a reboot on the current address', async () => {
    const { calls, provider } = recordingProvider();
    writeFileSync(
      journalPath,
      JSON.stringify({
        id: 'old',
        state: 'pending',
        what: 'delete Node w1',
        undo: { action: 'restart-kubelet', node: 'w1' },
        at: new Date().toISOString(),
      }) + '\n',
    );
    await replayPending({ nodes: provider, journalPath });
    expect(calls).to.deep.equal(['reboot w1 172.18.0.9']);
  });
});
