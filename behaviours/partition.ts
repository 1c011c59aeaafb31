// (d, the seed's warning) A partition is not a crash: the cut-off node's pod keeps running and writing.
// Kubernetes does not replace it, and must not: force-deleting it starts a second mysqld on another node on
// the same volume while the first still runs. ReadWriteOnce does not stop that on shared storage (the
// `shared` class stands in for NFS); only MariaDB's lock on the datadir does. Reconnecting ends the old one.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { CLIENT_POD, PROFILE, WORKLOAD_OBJECTS } from './support/workload.ts';
import { plus } from '../lib/cluster/settings.ts';
import { kubectl } from '../lib/cluster/shell.ts';
import { isPodReady, pvcName } from '../lib/observe/k8s-facts.ts';
import { lookCell, settleLooks, type Look } from '../lib/observe/node-looks.ts';
import { phase } from '../lib/run/console.ts';
import { waitFor, type RunContext } from '../lib/run/run.ts';
import { nodeRow, pod, podRow, readyPod, seconds, uidPrefix } from './support/pods.ts';
import * as loss from './support/node-loss.ts';

const { POD, CLAIM, VICTIM, OTHER, SERVER } = loss;
/** What a second server logs on a datadir the first holds (the profile's secondWriter, else not applicable). */
const LOCK_MESSAGE = PROFILE.secondWriter ?? /$^/;

/** Follows a pod's log until a line matches (`kubectl logs -f`: no polling), or gives up after `seconds`. */
async function logLine(ctx: RunContext, name: string, pattern: RegExp, seconds: number) {
  const follow = kubectl(['logs', '-f', '-n', ctx.ns, name]).nothrow();
  const timer = setTimeout(() => follow.abort(), seconds * 1000);
  try {
    for await (const line of follow) if (pattern.test(line)) return line.trim();
    return undefined;
  } finally {
    clearTimeout(timer);
    if (follow.stage === 'running') follow.abort(); // zx's kill() would warn (DEP0190)
  }
}

export const partition: Behaviour = {
  name: 'partition',
  title: 'the cut-off pod keeps running; a forced replacement would share its volume',
  plan: {
    creates: [WORKLOAD_OBJECTS(1), CLIENT_POD],
    faults: [`partition node ${VICTIM}`, 'delete pod', 'force delete pod'],
  },
  notApplicable: PROFILE.secondWriter
    ? undefined
    : `its force-delete step judges the message a second server logs when the first holds the volume, and profile ${PROFILE.name} names none (secondWriter)`,
  steps() {
    let lost: loss.VictimLoss | undefined;
    let second: V1Pod | undefined;
    let oldRunning: Look | undefined;
    return [
      loss.deployOnVictimStep,
      step({
        id: 'cut',
        title: `cut ${VICTIM} off: Ready=Unknown, tainted, ${POD} evicted, no replacement, yet ${SERVER} still runs there`,
        act: async (ctx) => (lost = await loss.loseVictim(ctx, 'cut')),
        judge(seen, ctx) {
          loss.judgeLoss(seen, ctx);
          loss.stillRan(seen.mysqld!, `the old ${SERVER} keeps running on the cut-off node`, true);
        },
      }),
      step({
        id: 'force-delete',
        title: `force delete starts a second ${SERVER} on ${OTHER} on the same volume; the datadir lock keeps it from serving`,
        async act(ctx) {
          phase(`force delete ${POD} (what the seed warns against)  ≙ kubectl delete pod ${POD} --force`);
          await ctx.faults.deletePod(ctx.ns, POD, { force: true });
          const b = ctx.bounds.workloadStart;
          second = await waitFor(ctx, `a second ${POD} running`, b, () => {
            const p = pod(ctx, POD);
            return p?.metadata?.uid !== lost!.uid && p?.status?.containerStatuses?.[0]?.state?.running && p;
          });
          // Its first lock attempt comes early in MySQL's start; read from the log stream.
          const lock = (await logLine(ctx, POD, LOCK_MESSAGE, b.seconds)) ?? '-';
          const looks = await Promise.all([loss.mysqldOn(ctx, VICTIM), loss.mysqldOn(ctx, OTHER)]);
          oldRunning = looks[0];
          const ready = isPodReady(pod(ctx, POD));
          const row = (p: V1Pod, which: string, mariadbd: Look, ready: string) =>
            podRow(ctx, p, { pod: `${POD} (${which})`, [SERVER]: lookCell(mariadbd), ready });
          const rows = [
            row(lost!.before, 'old, force-deleted', oldRunning, 'unknown (cut off)'),
            row(second, 'new', looks[1], String(ready)),
          ];
          const tables = [
            { title: `two ${SERVER}, one ${CLAIM}`, rows },
            { title: "the new server's log", rows: [{ line: lock }] },
          ];
          const node = second.spec?.nodeName ?? '-';
          const vars = { uid: uidPrefix(second.metadata?.uid), node, victim: VICTIM, pvc: CLAIM, lock };
          return { tables, second, oldRunning, ready, vars };
        },
        judge({ second, oldRunning, ready, vars }) {
          expect(vars.node, `the second ${POD} runs on the other node`).to.equal(OTHER);
          expect(pvcName(second), `the second ${POD} mounts the same claim`).to.equal(CLAIM);
          loss.stillRan(oldRunning, `${SERVER} still running on ${VICTIM}`, true);
          const lockFailed = `the second ${SERVER} cannot lock the datadir the first still holds`;
          expect(vars.lock, lockFailed).to.match(LOCK_MESSAGE);
          expect(ready, 'the second pod cannot serve while the first holds the datadir').to.equal(false);
        },
      }),
      step({
        id: 'reconnect',
        title: `reconnect ${VICTIM}: its kubelet ends the old ${SERVER}, the new ${POD} turns Ready, the row survived`,
        async act(ctx) {
          phase(`reconnect ${VICTIM}  ≙ ${ctx.faults.provider.command('reconnect', VICTIM)}`);
          const reconnectedAt = Date.now();
          await lost!.undo();
          const nodeBack = await loss.victimBack(ctx, reconnectedAt);
          // If the new server gave up on the lock (it retries 30 s), it is in crash-loop back-off.
          const b = plus(ctx.bounds.crashLoopRestart, ctx.bounds.workloadStart);
          const gone = `the new ${POD} Ready once the old ${SERVER} is gone`;
          const ready = await waitFor(ctx, gone, b, () => readyPod(ctx, POD, lost!.uid));
          const readyAfter = seconds(reconnectedAt);
          const [left, read] = await Promise.all([loss.mysqldOn(ctx, VICTIM), loss.readRow(ctx)]);
          // What the cut-off node ran while nobody could look, from its own record (API provider).
          await settleLooks(ctx.faults.provider, VICTIM, [lost!.mysqld!, oldRunning!]);
          const looks = [
            { moment: 'end of the no-replacement window', [SERVER]: lookCell(lost!.mysqld!) },
            { moment: 'second pod running', [SERVER]: lookCell(oldRunning!) },
          ];
          const back = { ...nodeRow(loss.victimNode(ctx), VICTIM), 'Ready after': `+${nodeBack}s` };
          const mariadbd = lookCell(left);
          const extra = { 'Ready after': `+${readyAfter}s`, [`${SERVER} on ${VICTIM}`]: mariadbd, row: read };
          const tables = [
            { title: 'node', rows: [back] },
            { title: 'pods', rows: [podRow(ctx, ready, extra)] },
            { title: `${SERVER} on ${VICTIM} while it was cut off`, rows: looks },
          ];
          const node = ready.spec?.nodeName ?? '-';
          const vars = { victim: VICTIM, node, ready: readyAfter, left: mariadbd, row: read };
          return { tables, ready, vars };
        },
        judge({ ready, vars }) {
          const uid = second?.metadata?.uid;
          expect(ready.metadata?.uid, `${POD} is the second pod of the force delete`).to.equal(uid);
          loss.stillRan(lost!.mysqld!, `${SERVER} on the cut-off ${VICTIM} at the end of the window`);
          loss.stillRan(oldRunning!, `${SERVER} on the cut-off ${VICTIM} while the second pod ran`);
          expect(vars.left, `the returning kubelet stopped the old ${SERVER}`).to.equal(0);
          expect(vars.row, 'the row written before the partition, read back').to.equal(loss.ROW);
        },
      }),
    ];
  },
};
