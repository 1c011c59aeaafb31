// (d) After a node stops, the StatefulSet does NOT replace its pod: the old pod stays (Terminating once
// evicted) as only that node's kubelet may confirm it is gone, and no two pods may share one identity.
// Ways out, each on a node loss of its own: force-delete the pod (in the lab), start the node, delete
// the Node object, taint it out-of-service (suite only). Contrasts (suite only): a Deployment replaces
// its pod at once; with a node-local PV even a forced replacement waits for the node.
import { expect } from 'chai';
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { plus, type Bound, type Bounds } from '../lib/cluster/settings.ts';
import { OUT_OF_SERVICE_TAINT, type Undo } from '../lib/faults/faults.ts';
import * as evidence from '../lib/observe/evidence.ts';
import type { RecordedEvent } from '../lib/observe/recorder.ts';
import { gapFree } from '../lib/observe/waits.ts';
import { isPodReady, nodeReadyStatus } from '../lib/observe/k8s-facts.ts';
import { lookCell } from '../lib/observe/node-looks.ts';
import { phase } from '../lib/run/console.ts';
import { createAll, waitFor, type RunContext } from '../lib/run/run.ts';
import { nodeRow, pod, podRow, pvc, readyPod, seconds, uidPrefix } from './support/pods.ts';
import * as loss from './support/node-loss.ts';
import { CLIENT_POD, WORKLOAD_OBJECTS, deploymentOf, renderWorkload, THE_STS } from './support/workload.ts';

const { POD, VICTIM, OTHER, SERVER } = loss;
/** The contrast's StatefulSet on node-local storage, beside the profile's in the same namespace. */
const LOCAL = 'local-0';
const start = (ctx: RunContext, why = '') =>
  `start node ${VICTIM} again${why}  ≙ ${ctx.faults.provider.command('start', VICTIM)}`;
/** What an operator does to end the wait; a fault it injects comes back as its undo. */
type Action = (ctx: RunContext, lost: loss.VictimLoss) => Promise<Undo | void>;

/** Does `action` on `lost`, waits for a new pod 0 Ready within `bound`: before and after, the row. */
async function replacedBy(ctx: RunContext, lost: loss.VictimLoss, action: Action, bound: Bound) {
  const actedAt = Date.now();
  const undo = await action(ctx, lost);
  const after = await waitFor(ctx, `a new ${POD} Ready`, bound, () => readyPod(ctx, POD, lost.uid));
  const readyAt = Date.now();
  const ready = seconds(actedAt, readyAt);
  const read = await loss.readRow(ctx);
  const rows = [
    { '': 'before', ...podRow(ctx, lost.before, { 'Ready after the action': '', row: '' }) },
    { '': 'after', ...podRow(ctx, after, { 'Ready after the action': `+${ready}s`, row: read }) },
  ];
  const identities = { old: evidence.identityOf(lost.before), now: evidence.identityOf(after) };
  const volumes = [lost.volume, evidence.volumeOf(pvc(ctx, loss.CLAIM)!)] as const;
  const vars = { node: after.spec?.nodeName ?? '-', ready, pvc: loss.CLAIM, row: read };
  const table = { title: `${POD} before and after`, rows };
  return { tables: [table], actedAt, readyAt, ...identities, volumes, undo, vars };
}
type Replaced = Awaited<ReturnType<typeof replacedBy>>;

function judgeReplaced(seen: Replaced, node?: string) {
  evidence.samePodIdentity(seen.old, seen.now);
  evidence.sameVolume(...seen.volumes);
  if (node) expect(seen.now.node, `the new ${POD} runs on ${node}`).to.equal(node);
  expect(seen.vars.row, 'the row written before the loss, read back').to.equal(loss.ROW);
}

/** A way out on a node loss of its own: the action; a new pod 0 (on `node`) within the action's `delay` and its
 * start, after the `mechanism` (the victim Node's change that lets the old pod go); the node back within `back`. */
const wayOut = (
  id: string,
  title: string,
  says: string | ((ctx: RunContext) => string),
  action: Action,
  mechanism: { what: string; seen: (e: RecordedEvent) => boolean },
  { delay, node, back = 'nodeReady' }: { delay: keyof Bounds; node?: string; back?: keyof Bounds },
) =>
  step({
    id,
    title: `${title} (on a node loss of its own)`,
    async act(ctx) {
      const lost = await loss.loseVictim(ctx, 'stop');
      phase(typeof says === 'string' ? says : says(ctx));
      const replaced = await replacedBy(ctx, lost, action, plus(ctx.bounds[delay], ctx.bounds.workloadStart));
      // The mechanism on the live watch: the Node's change, the old pod's DELETED, the new pod's ADDED.
      const since = ctx.rec.events.filter((e) => e.at >= replaced.actedAt && e.source === 'watch');
      const seenAt = (event: string, test: typeof mechanism.seen) => ({ event, at: since.find(test)?.at });
      const podEvent = (which: string, uid: string, type: string) =>
        seenAt(`${which} ${POD} uid ${uidPrefix(uid)} ${type}`, (e) => e.uid === uid && e.type === type);
      const order = [
        seenAt(mechanism.what, (e) => e.resource === 'nodes' && e.name === VICTIM && mechanism.seen(e)),
        podEvent('old', lost.uid, 'DELETED'),
        podEvent('new', replaced.now.uid, 'ADDED'),
      ];
      const when = (ms?: number) => (ms === undefined ? 'not seen' : `+${seconds(replaced.actedAt, ms)}s`);
      const rows = order.map(({ event, at }) => ({ event, at: when(at) }));
      await replaced.undo?.();
      await lost.undo();
      await loss.victimBack(ctx, Date.now(), ctx.bounds[back]);
      const mechanismTable = { title: 'the mechanism, on the live watch', rows };
      return { tables: [...lost.tables, mechanismTable, ...replaced.tables], lost, replaced, order };
    },
    judge(seen, ctx) {
      loss.judgeLoss(seen.lost, ctx);
      judgeReplaced(seen.replaced, node);
      const noGap = () => gapFree(ctx.rec, ['pods', 'nodes'], seen.replaced.actedAt, seen.replaced.readyAt);
      expect(noGap, 'the pods and nodes watches had no gap while the mechanism acted').to.not.throw();
      // Each seen on the live watch, after the one before it.
      const steps = seen.order.map(({ event, at }, i) => {
        expect(at, `${event}, seen on the live watch`).to.be.a('number');
        const previous = seen.order[i - 1];
        return { label: `${event} (after: ${previous?.event})`, start: at!, previousDone: previous?.at };
      });
      evidence.eachAfter(steps);
    },
  });

const contrast = step({
  id: 'contrast',
  title:
    'contrast: the Deployment replaces its pod elsewhere at once; the StatefulSet does not, and with a node-local PV even a forced replacement stays Pending',
  async act(ctx) {
    phase(
      `deploy ${THE_STS} again as "local" on node-local storage, and as a Deployment "web", on ${VICTIM}`,
    );
    const seed = (name?: string) =>
      renderWorkload(ctx.ns, { ...loss.onVictim('standard'), name }).statefulSet;
    await createAll(ctx, [deploymentOf(seed(), 'web'), seed('local')]);
    const isWeb = (p: V1Pod, old?: string) =>
      p.metadata?.labels?.app === 'web' && p.metadata.uid !== old && isPodReady(p);
    const webReady = (old?: string) =>
      waitFor(ctx, 'a Deployment pod Ready', ctx.bounds.workloadStart, () =>
        ctx.rec.objects<V1Pod>('pods').find((p) => isWeb(p, old)),
      );
    const web = await webReady();
    const old = await loss.loseVictim(ctx, 'stop', LOCAL);
    const newWeb = await webReady(web.metadata!.uid);
    const createdAt = ctx.rec.events.find((e) => e.uid === newWeb.metadata?.uid)?.at;
    const createdAfter = seconds(old.lostAt, createdAt);
    const replacement = `${newWeb.metadata?.name} on ${newWeb.spec?.nodeName}, Ready, created +${createdAfter}s`;
    const newUids = old.uids.filter((uid) => uid !== old.uid).map(uidPrefix);
    const stsNew = newUids.join(',') || 'none';
    const owners = [
      { owner: 'Deployment', pod: web.metadata?.name, node: web.spec?.nodeName, replacement },
      { owner: 'StatefulSet', pod: LOCAL, node: old.before.spec?.nodeName, replacement: stsNew },
    ];
    phase(`force delete ${LOCAL}, whose PV is on ${VICTIM}  ≙ kubectl delete pod ${LOCAL} --force`);
    await ctx.faults.deletePod(ctx.ns, LOCAL, { force: true });
    const unplaced = ({ reason, involvedObject: o }: CoreV1Event) =>
      reason === 'FailedScheduling' && o.name === LOCAL && o.uid !== old.uid;
    const why = `the scheduler's reason why the new ${LOCAL} cannot be placed`;
    const { reason, message } = await waitFor(ctx, why, ctx.bounds.controllerReaction, () =>
      ctx.rec.objects<CoreV1Event>('events').find(unplaced),
    );
    const pending = pod(ctx, LOCAL);
    phase(start(ctx, ", which holds the pending pod's volume"));
    const startedAt = Date.now();
    await old.undo();
    const bound = plus(ctx.bounds.nodeReady, ctx.bounds.workloadStart);
    const back = await waitFor(ctx, `${LOCAL} Ready on ${VICTIM}`, bound, () =>
      readyPod(ctx, LOCAL, old.uid),
    );
    const row = (at: string, p?: V1Pod) => ({ '': at, ...podRow(ctx, p, { phase: p?.status?.phase }) });
    const forced = [
      row(`force-deleted, ${VICTIM} down`, pending),
      row(`${VICTIM} started, +${seconds(startedAt)}s`, back),
    ];
    const volume = loss.volumeRow(ctx, `pvc-${LOCAL}`);
    const tables = [
      ...old.tables,
      { title: 'volume', rows: [volume] },
      { title: 'after the node loss', rows: owners },
      { title: `${LOCAL} force-deleted`, rows: forced },
      { title: 'scheduler', rows: [{ reason, message }] },
    ];
    return { tables, old, web, newWeb, createdAt, volume, pending, message, back };
  },
  judge({ old, web, newWeb, createdAt, volume, pending, message, back }, ctx) {
    expect(web.spec?.nodeName, 'the Deployment pod ran on the lost node').to.equal(VICTIM);
    expect(volume['node affinity'], `${LOCAL}'s node-local PV`).to.equal('pinned to a node');
    loss.judgeLoss(old, ctx);
    expect(newWeb.metadata?.name, 'the Deployment replacement: a new name').to.not.equal(web.metadata?.name);
    expect(newWeb.spec?.nodeName, 'the Deployment replacement runs elsewhere').to.equal(OTHER);
    // A ReplicaSet counts only pods that are not terminating: it acts inside the StatefulSet's window.
    const created = 'the Deployment replacement, created while the StatefulSet made none';
    expect(createdAt, created).to.be.within(old.lostAt, old.window.to);
    // The shared no-replacement check, run on the Deployment's pod, must fail (a negative case).
    const webCheck = () => evidence.noReplacementDuring(ctx.rec.events, evidence.lostPodOf(web), old.window);
    const negative = "the StatefulSet's no-replacement check, run on the Deployment's pod";
    expect(webCheck, `${negative}: it fails, naming the replacement`).to.throw(newWeb.metadata!.name!);
    expect(pending?.metadata?.uid, `a new ${LOCAL}`).to.not.be.oneOf([undefined, old.uid]);
    expect(pending?.status?.phase, `the new ${LOCAL} while ${VICTIM} is down`).to.equal('Pending');
    const pinned = /PersistentVolume's node affinity|volume node affinity/; // its PV is on a node it cannot use
    expect(message, 'the scheduler').to.match(pinned);
    expect(back.spec?.nodeName, `${LOCAL} runs where its volume is`).to.equal(VICTIM);
  },
});

export const nodeStop: Behaviour = {
  name: 'node-stop',
  title: 'no replacement pod until an operator acts',
  plan: {
    creates: [
      WORKLOAD_OBJECTS(1),
      CLIENT_POD,
      'StatefulSet local and Deployment web (the contrast), on node-local storage',
    ],
    faults: [
      `stop node ${VICTIM}`,
      'delete pod',
      'force delete pod',
      `delete Node ${VICTIM}`,
      `taint ${VICTIM}`,
    ],
  },
  steps() {
    let lost: loss.VictimLoss | undefined;
    let forced: Replaced | undefined;
    return [
      loss.deployOnVictimStep,
      step({
        id: 'stop',
        title: `stop ${VICTIM}: Ready=Unknown, tainted unreachable, ${POD} evicted, and no replacement`,
        act: async (ctx) => (lost = await loss.loseVictim(ctx, 'stop')),
        judge: loss.judgeLoss,
      }),
      step({
        id: 'force-delete',
        title: `(b) force-deleting the Terminating pod lets the controller replace it at once on ${OTHER}, with its data`,
        async act(ctx) {
          phase(`force delete ${POD} (unsafe if the node still ran it)  ≙ kubectl delete pod ${POD} --force`);
          const force: Action = (c) => c.faults.deletePod(c.ns, POD, { force: true });
          return (forced = await replacedBy(ctx, lost!, force, ctx.bounds.workloadStart));
        },
        judge: (seen) => judgeReplaced(seen, OTHER),
      }),
      step({
        id: 'start',
        title: `start ${VICTIM} again: it rejoins, ${POD} stays where it moved, no ${SERVER} runs on ${VICTIM}`,
        async act(ctx) {
          phase(start(ctx));
          const startedAt = Date.now();
          await lost!.undo();
          const ready = await loss.victimBack(ctx, startedAt);
          const mysqld = lookCell(await loss.mysqldOn(ctx, VICTIM));
          const [node, now] = [loss.victimNode(ctx), pod(ctx, POD)];
          const tables = [
            { title: 'node', rows: [{ ...nodeRow(node, VICTIM), 'Ready after start': `+${ready}s` }] },
            { title: 'pods', rows: [podRow(ctx, now, { [`${SERVER} on ${VICTIM}`]: mysqld })] },
          ];
          const vars = { victim: VICTIM, ready, node: now?.spec?.nodeName ?? '-', mysqld };
          return { tables, node, now, vars };
        },
        judge({ node, now, vars }) {
          expect(nodeReadyStatus(node), `${VICTIM} Ready`).to.equal('True');
          expect(node?.spec?.taints ?? [], `${VICTIM}'s taints`).to.deep.equal([]);
          expect(now?.metadata?.uid, `${POD}, the pod that replaced the lost one`).to.equal(forced?.now.uid);
          expect(now?.spec?.nodeName, `${POD} stays where it moved`).to.equal(forced?.now.node);
          expect(vars.mysqld, `${SERVER} processes on ${VICTIM}`).to.equal(0);
        },
      }),
      wayOut(
        'node-start',
        '(c) starting the node again lets its kubelet finish the deletion, then the pod is recreated',
        start,
        (_ctx, lost) => lost.undo(),
        { what: `${VICTIM} Ready=True again`, seen: (e) => nodeReadyStatus(e.object) === 'True' },
        { delay: 'nodeReady' }, // then its kubelet confirms the deletion at once
      ),
      wayOut(
        'delete-node',
        `(a) deleting the Node object lets pod GC remove the pod, then it is recreated on ${OTHER}`,
        `delete the Node object  ≙ kubectl delete node ${VICTIM}`,
        (ctx) => ctx.faults.deleteNodeObject(VICTIM),
        { what: `Node ${VICTIM} DELETED`, seen: (e) => e.type === 'DELETED' },
        { delay: 'podGc', node: OTHER, back: 'kubeletReregister' },
      ),
      wayOut(
        'out-of-service',
        `(d) the out-of-service taint force-deletes the pod, then it is recreated on ${OTHER}`,
        `taint ${VICTIM}  ≙ kubectl taint node ${VICTIM} ${OUT_OF_SERVICE_TAINT}=nodeshutdown:NoExecute`,
        (ctx) => ctx.faults.taintOutOfService(VICTIM),
        {
          what: `${VICTIM} tainted ${OUT_OF_SERVICE_TAINT}`,
          seen: (e) => !!(e.object as V1Node).spec?.taints?.some((t) => t.key === OUT_OF_SERVICE_TAINT),
        },
        { delay: 'podGc', node: OTHER }, // pod GC deletes an out-of-service node's pods at its next pass: no quarantine
      ),
      contrast,
    ];
  },
};
