// The API-only node faults end on the node itself: a harness killed with SIGKILL in the middle of a
// stop or a partition runs nothing afterwards, and the node is Ready again by the fault's deadline,
// undone by its own watchdog. Then a next start finds nothing left to repair. Figures are printed.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { V1Node } from '@kubernetes/client-node';
import { agentImage } from '../../lib/cluster/api-nodes.ts';
import { acquireNodeFaultLock, LOCK_HOLDER_ENV, releaseNodeFaultLock } from '../../lib/cluster/lock.ts';
import {
  armedOn,
  runOnNode,
  unitOf,
  WATCHDOG_PERIOD,
  type ArmedFault,
} from '../../lib/cluster/node-agent.ts';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';
import { bound } from '../../lib/cluster/settings.ts';
import { pendingUndos, replayPending } from '../../lib/faults/journal.ts';
import { nodeReadyStatus } from '../../lib/observe/k8s-facts.ts';
import type { Recorder } from '../../lib/observe/recorder.ts';
import { until } from '../../lib/observe/waits.ts';
import { exclusiveWorker, NODE_BIN, nodeRecorder, useCluster } from './fixture.ts';

const CHILD = join(REPO_ROOT, 'test', 'integration', 'fixtures', 'held-fault.ts');
/** The stop's hold in this test: a killed harness leaves the node down at most this long. */
const HOLD = 40;
/** The partition's planned length. */
const CUT = 45;
/** The agent pod's start and exit, plus the child's start-up (3-6 s measured). */
const CHILD_HELD_BOUND = 90;
/** The watchdog looks at its deadline every WATCHDOG_PERIOD s; a second more for a loaded node's work. */
const WATCHDOG_LATE = WATCHDOG_PERIOD + 1;

function holdFault(worker: string, fault: 'stop' | 'cut', journal: string) {
  const child: ChildProcess = spawn(NODE_BIN, [CHILD, worker, fault, String(CUT)], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      LAB_NODE_FAULTS: 'api',
      LAB_JOURNAL: journal,
      LAB_TIMEOUT_AGENT_HOLD: String(HOLD),
      [LOCK_HOLDER_ENV]: String(process.pid),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const held = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child did not ${fault} ${worker} within ${CHILD_HELD_BOUND}s`)),
      CHILD_HELD_BOUND * 1000,
    );
    createInterface({ input: child.stdout! }).once('line', () => (clearTimeout(timer), resolve()));
    void exited.then(
      (e) => (clearTimeout(timer), reject(new Error(`child exited (${e}) before its ${fault}: ${stderr}`))),
    );
  });
  return { child, held, exited };
}

describe('integration: API-only node faults end on the node, even when the harness is killed', function () {
  const cluster = useCluster();
  let rec: Recorder;
  let dir: string;
  let journal: string;
  let worker: string;
  const node = () => rec.get<V1Node>('nodes', worker);
  const readyIs = (status: string, seconds: number, why: string) =>
    until(rec, () => nodeReadyStatus(node()) === status, {
      timeout: seconds,
      why: `${worker} Ready=${status} ${why}`,
      describe: () => `  ${worker} Ready=${nodeReadyStatus(node())}`,
    });

  before(async function () {
    const lockWait = bound('NODE_FAULT_LOCK', 900);
    this.timeout((lockWait + 30) * 1000);
    await acquireNodeFaultLock('harness API-only node-fault tests', lockWait);
    dir = mkdtempSync(join(tmpdir(), 'lab-api-faults-'));
    journal = join(dir, 'journal.jsonl');
    rec = await nodeRecorder(cluster().kube).start();
  });
  beforeEach(async function () {
    this.timeout(cluster().bounds.nodeReady.seconds * 1000 + 10_000);
    worker = await exclusiveWorker(cluster(), rec);
  });
  afterEach(async function () {
    this.timeout(300_000);
    await replayPending({ kube: cluster().kube, journalPath: journal, scope: 'all' });
  });
  after(async () => {
    await rec?.stop();
    releaseNodeFaultLock();
    rmSync(dir, { recursive: true, force: true });
  });

  /** When the node's watchdog undid the fault, from the unit's own journal on the node. */
  async function undoneAt(f: ArmedFault): Promise<number> {
    const log = await runOnNode(
      cluster().kube,
      agentImage(),
      worker,
      `journalctl -u ${unitOf(f.id)} -o short-unix --no-pager`,
      60,
    );
    const line = log.split('\n').find((l) => /undoing/.test(l));
    expect(line, `the watchdog's journal on ${worker} says it undid the fault:\n${log}`).to.be.a('string');
    return Math.round(Number(line!.split(' ')[0]) * 1000);
  }

  for (const fault of ['stop', 'cut'] as const) {
    it(`a ${fault === 'stop' ? 'stop' : 'partition'} held by a SIGKILLed harness ends on the node by its deadline; a next start has nothing to repair`, async function () {
      const b = cluster().bounds;
      this.timeout(
        (CHILD_HELD_BOUND + b.nodeUnknown.seconds + HOLD + CUT + b.nodeReady.seconds * 2 + 60) * 1000,
      );
      const kube = cluster().kube;
      const { child, held, exited } = holdFault(worker, fault, journal);
      await held;
      await readyIs(
        'Unknown',
        b.nodeUnknown.seconds,
        `once the ${fault} is in place (bound nodeUnknown: ${b.nodeUnknown.why})`,
      );
      child.kill('SIGKILL');
      const killedAt = Date.now();
      expect(await exited, 'the harness was killed').to.equal('SIGKILL');
      const [armed] = await armedOn(kube, worker);
      expect(armed, `the ${fault}'s control object on ${worker}`).to.not.equal(undefined);
      const leftFor = (armed!.deadline - killedAt) / 1000;
      const most = fault === 'stop' ? HOLD : CUT;
      expect(
        leftFor,
        `seconds from the kill to the deadline (at most the ${fault === 'stop' ? 'hold' : 'planned cut'}, ${most}s)`,
      ).to.be.at.most(most + 1);
      // Nothing runs on this side from here on but watches and reads.
      await readyIs(
        'True',
        Math.max(0, leftFor) + b.nodeReady.seconds,
        `again after its deadline (bound: the deadline + nodeReady, ${b.nodeReady.why})`,
      );
      const readyAt = Date.now();
      const undone = await undoneAt(armed!);
      console.log(
        `      killed; deadline +${leftFor.toFixed(1)}s; undone on the node ${((undone - armed!.deadline) / 1000).toFixed(1)}s after the deadline; Ready ${((readyAt - armed!.deadline) / 1000).toFixed(1)}s after it`,
      );
      expect(
        undone - armed!.deadline,
        `ms from the deadline to the node undoing it (bound: the watchdog's period, ${WATCHDOG_PERIOD}s, + 1s)`,
      ).to.be.within(0, WATCHDOG_LATE * 1000);
      expect(
        (await armedOn(kube, worker)).length,
        'nobody removed the control object: the node ended the fault alone',
      ).to.equal(1);
      // The next start: its journal replay finds the node already back, waits for nothing, and cleans up.
      expect(pendingUndos(journal).length, "the killed harness's journal entry").to.equal(1);
      const t0 = Date.now();
      await replayPending({ kube, journalPath: journal });
      console.log(
        `      next start's replay: ${((Date.now() - t0) / 1000).toFixed(1)}s, node ${nodeReadyStatus(node())}`,
      );
      expect(Date.now() - t0, 'ms the replay took (the node was back: nothing to wait for)').to.be.below(
        15_000,
      );
      expect(await armedOn(kube, worker), 'agent objects left').to.deep.equal([]);
      expect(pendingUndos(journal), 'journal entries left').to.deep.equal([]);
    });
  }
});
