// (d) After a node stops, the StatefulSet does NOT replace its pod: the old pod object stays
// (Terminating once evicted) because only that node's kubelet may confirm it is gone, and the
// controller never runs two pods with one identity. Each way out ends a node loss of its own:
// force-delete the pod (shown in the lab), start the node, delete the Node object, taint it
// out-of-service (suite only). Contrasts (suite only): a Deployment replaces its pod at once; with a
// node-local PV even a forced replacement waits for the node. mysql-0's volume is on the `shared`
// class (no node affinity) so its replacement can run on another node.
import { expect } from 'chai';
import type { CoreV1Event, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import type { Bound, Bounds } from '../lib/cluster/settings.ts';
import { OUT_OF_SERVICE_TAINT, type Undo } from '../lib/faults/faults.ts';
import { identityOf, samePodIdentity, sameVolume, volumeOf } from '../lib/observe/evidence.ts';
import { isPodReady, nodeReadyStatus } from '../lib/observe/k8s-facts.ts';
import { phase } from '../lib/run/console.ts';
import { createAll, waitFor, type RunContext } from '../lib/run/run.ts';
import { plus } from '../lib/cluster/settings.ts';
import { nodeRow, pod, podRow, pvc, readyPod, seconds, uidPrefix } from './support/pods.ts';
import * as loss from './support/node-loss.ts';
import { deploymentOf } from './support/seed.ts';

const { POD, VICTIM, OTHER } = loss;
/** The contrast's StatefulSet on node-local storage, beside `mysql` in the same namespace. */
const LOCAL = 'local-0';
/** What the scheduler says of a pod whose PV is on a node it cannot use. */
const PINNED = /PersistentVolume's node affinity|volume node affinity/;

/** The seed StatefulSet as `local`, with labels of its own. */
function local(sts: V1StatefulSet): V1StatefulSet {
  const labels = { app: 'local-sts' };
  sts.metadata = { ...sts.metadata, name: 'local' };
  sts.spec = { ...sts.spec!, selector: { matchLabels: labels } };
  sts.spec.template.metadata = { labels };
  return sts;
}

export const nodeStop: Behaviour = {
  name: 'node-stop',
  title: 'no replacement pod until an operator acts',
  steps() {
    let lost: loss.VictimLoss | undefined;
    let after: V1Pod | undefined;

    /** A new mysql-0 Ready within `bound` of an action at `actedAt`: before and after, and the row. */
    async function replaced(ctx: RunContext, actedAt: number, bound: Bound) {
      const old = lost!.before;
      after = await waitFor(ctx, `a new ${POD} Ready`, bound, () => readyPod(ctx, POD, old.metadata!.uid));
      const ready = seconds(actedAt);
      const read = await loss.readRow(ctx);
      const rows = [
        { '': 'before', ...podRow(ctx, old, { 'Ready after the action': '', row: '' }) },
        { '': 'after', ...podRow(ctx, after, { 'Ready after the action': `+${ready}s`, row: read }) },
      ];
      return {
        tables: [{ title: `${POD} before and after`, rows }],
        old: identityOf(old),
        now: identityOf(after),
        volumes: [lost!.volume, volumeOf(pvc(ctx, loss.CLAIM)!)] as const,
        read,
        vars: { node: after.spec?.nodeName ?? '-', ready, pvc: loss.CLAIM, row: read },
      };
    }
    type Replaced = Pick<Awaited<ReturnType<typeof replaced>>, 'old' | 'now' | 'volumes' | 'read'>;
    function judgeReplaced(seen: Replaced, node?: string) {
      samePodIdentity(seen.old, seen.now);
      sameVolume(...seen.volumes);
      if (node) expect(seen.now.node, `the new ${POD} runs on ${node}`).to.equal(node);
      expect(seen.read, 'the row written before the loss, read back').to.equal(loss.ROW);
    }

    /** A way out on a node loss of its own: the action, a new mysql-0 within its bound, the node back. */
    const wayOut = (
      id: string,
      title: string,
      action: (ctx: RunContext) => Promise<Undo | void>,
      bound: (b: Bounds) => Bound,
      node?: string,
      back: keyof Bounds = 'nodeReady',
    ) =>
      step({
        id,
        title: `${title} (on a node loss of its own)`,
        async act(ctx) {
          lost = await loss.loseVictim(ctx, 'stop');
          const seenLoss = loss.lossObservation(ctx, lost);
          const actedAt = Date.now();
          const undo = await action(ctx);
          const seen = await replaced(ctx, actedAt, bound(ctx.bounds));
          await undo?.();
          await lost.undo();
          await loss.victimBack(ctx, Date.now(), ctx.bounds[back]);
          return { ...seen, seenLoss, tables: [...seenLoss.tables, ...seen.tables] };
        },
        judge(seen, ctx) {
          loss.judgeLoss(seen.seenLoss, ctx);
          judgeReplaced(seen, node);
        },
      });

    return [
      loss.deployOnVictimStep,
      step({
        id: 'stop',
        title: `stop ${VICTIM}: Ready=Unknown, tainted unreachable, ${POD} evicted, and no replacement`,
        async act(ctx) {
          lost = await loss.loseVictim(ctx, 'stop');
          return loss.lossObservation(ctx, lost);
        },
        judge: loss.judgeLoss,
      }),
      step({
        id: 'force-delete',
        title: `(b) force-deleting the Terminating pod lets the controller replace it at once on ${OTHER}, with its data`,
        async act(ctx) {
          phase(`force delete ${POD} (unsafe if the node still ran it)  ≙ kubectl delete pod ${POD} --force`);
          const actedAt = Date.now();
          await ctx.faults.deletePod(ctx.ns, POD, { force: true });
          return replaced(ctx, actedAt, ctx.bounds.mysqlStart);
        },
        judge: (seen) => judgeReplaced(seen, OTHER),
      }),
      step({
        id: 'start',
        title: `start ${VICTIM} again: it rejoins, ${POD} stays where it moved, no mariadbd runs on ${VICTIM}`,
        async act(ctx) {
          phase(`start node ${VICTIM} again  ≙ docker start ${VICTIM}`);
          const startedAt = Date.now();
          await lost!.undo();
          const ready = await loss.victimBack(ctx, startedAt);
          const mysqld = (await loss.mysqldOn(VICTIM)).length;
          const [node, now] = [loss.victimNode(ctx), pod(ctx, POD)];
          return {
            tables: [
              { title: 'node', rows: [{ ...nodeRow(node, VICTIM), 'Ready after start': `+${ready}s` }] },
              { title: 'pods', rows: [podRow(ctx, now, { [`mariadbd on ${VICTIM}`]: mysqld })] },
            ],
            node,
            now,
            mysqld,
            vars: { victim: VICTIM, ready, node: now?.spec?.nodeName ?? '-', mysqld },
          };
        },
        judge({ node, now, mysqld }) {
          expect(nodeReadyStatus(node), `${VICTIM} Ready`).to.equal('True');
          expect(node?.spec?.taints ?? [], `${VICTIM}'s taints`).to.deep.equal([]);
          expect(now?.metadata?.uid, `${POD}, the pod that replaced the lost one`).to.equal(
            after?.metadata?.uid,
          );
          expect(now?.spec?.nodeName, `${POD} stays where it moved`).to.equal(after?.spec?.nodeName);
          expect(mysqld, `mariadbd processes on ${VICTIM}`).to.equal(0);
        },
      }),
      wayOut(
        'node-start',
        '(c) starting the node again lets its kubelet finish the deletion, then the pod is recreated',
        async () => {
          phase(`start node ${VICTIM} again  ≙ docker start ${VICTIM}`);
          await lost!.undo();
        },
        (b) => plus(b.nodeReady, b.mysqlStart), // then its kubelet confirms the deletion at once
      ),
      wayOut(
        'delete-node',
        `(a) deleting the Node object lets pod GC remove the pod, then it is recreated on ${OTHER}`,
        (ctx) => {
          phase(`delete the Node object  ≙ kubectl delete node ${VICTIM}`);
          return ctx.faults.deleteNodeObject(VICTIM);
        },
        (b) => plus(b.podGc, b.mysqlStart),
        OTHER,
        'kubeletReregister',
      ),
      wayOut(
        'out-of-service',
        `(d) the out-of-service taint force-deletes the pod, then it is recreated on ${OTHER}`,
        (ctx) => {
          phase(
            `taint ${VICTIM}  ≙ kubectl taint node ${VICTIM} ${OUT_OF_SERVICE_TAINT}=nodeshutdown:NoExecute`,
          );
          return ctx.faults.taintOutOfService(VICTIM);
        },
        // Pod GC deletes an out-of-service node's pods at its next pass: no quarantine, within podGc.
        (b) => plus(b.podGc, b.mysqlStart),
        OTHER,
      ),
      step({
        id: 'contrast',
        title:
          'contrast: the Deployment replaces its pod elsewhere at once; the StatefulSet does not, and with a node-local PV even a forced replacement stays Pending',
        async act(ctx) {
          phase(`deploy the seed as "local" on node-local storage, and as a Deployment "web", on ${VICTIM}`);
          const seed = loss.seedOnVictim(ctx.ns, 'standard');
          await createAll(ctx, [deploymentOf(seed.statefulSet, 'web'), local(seed.statefulSet)]);
          const web = () => ctx.rec.objects<V1Pod>('pods').filter((p) => p.metadata?.labels?.app === 'web');
          const ready = (old?: string) =>
            waitFor(ctx, 'a Deployment pod Ready', ctx.bounds.mysqlStart, () =>
              web().find((p) => p.metadata?.uid !== old && isPodReady(p)),
            );
          const webPod = await ready();
          const old = await loss.loseVictim(ctx, 'stop', LOCAL);
          const seenLoss = loss.lossObservation(ctx, old);
          const newWeb = await ready(webPod.metadata!.uid);
          const createdAt = ctx.rec.events.find((e) => e.uid === newWeb.metadata?.uid)?.at;
          const volume = loss.volumeRow(ctx, `pvc-${LOCAL}`);
          const replacement = `${newWeb.metadata?.name} on ${newWeb.spec?.nodeName}, Ready, created +${seconds(old.lostAt, createdAt)}s`;
          const sts =
            seenLoss.uids
              .filter((u) => u !== old.uid)
              .map(uidPrefix)
              .join(',') || 'none';
          const owners = [
            { owner: 'Deployment', pod: webPod.metadata?.name, node: webPod.spec?.nodeName, replacement },
            { owner: 'StatefulSet', pod: LOCAL, node: old.before.spec?.nodeName, replacement: sts },
          ];
          phase(`force delete ${LOCAL}, whose PV is on ${VICTIM}  ≙ kubectl delete pod ${LOCAL} --force`);
          await ctx.faults.deletePod(ctx.ns, LOCAL, { force: true });
          const why = `the scheduler's reason why the new ${LOCAL} cannot be placed`;
          const events = () =>
            ctx.rec.objects<CoreV1Event>('events').filter((e) => e.reason === 'FailedScheduling');
          const failure = await waitFor(ctx, why, ctx.bounds.controllerReaction, () =>
            events().find((e) => e.involvedObject.name === LOCAL && e.involvedObject.uid !== old.uid),
          );
          const pending = pod(ctx, LOCAL);
          const pendingRow = podRow(ctx, pending, { phase: pending?.status?.phase });
          phase(`start ${VICTIM} again, which holds the pending pod's volume  ≙ docker start ${VICTIM}`);
          const startedAt = Date.now();
          await old.undo();
          const bound = plus(ctx.bounds.nodeReady, ctx.bounds.mysqlStart);
          const back = await waitFor(ctx, `${LOCAL} Ready on ${VICTIM}`, bound, () =>
            readyPod(ctx, LOCAL, old.uid),
          );
          const backRow = podRow(ctx, back, { phase: back.status?.phase });
          const rows = [
            { '': `force-deleted, ${VICTIM} down`, ...pendingRow },
            { '': `${VICTIM} started, +${seconds(startedAt)}s`, ...backRow },
          ];
          const { reason, message } = failure;
          const tables = [
            ...seenLoss.tables,
            { title: 'volume', rows: [volume] },
            { title: 'after the node loss', rows: owners },
            { title: `${LOCAL} force-deleted`, rows },
            { title: 'scheduler', rows: [{ reason, message }] },
          ];
          return { tables, seenLoss, webPod, newWeb, createdAt, volume, old, pending, message, back };
        },
        judge(seen, ctx) {
          expect(seen.webPod.spec?.nodeName, 'the Deployment pod ran on the lost node').to.equal(VICTIM);
          expect(seen.volume['node affinity'], `${LOCAL}'s node-local PV`).to.equal('pinned to a node');
          loss.judgeLoss(seen.seenLoss, ctx);
          const { name } = seen.webPod.metadata!;
          expect(seen.newWeb.metadata?.name, 'the Deployment replacement: a new name').to.not.equal(name);
          expect(seen.newWeb.spec?.nodeName, 'the Deployment replacement runs elsewhere').to.equal(OTHER);
          // A ReplicaSet counts only pods that are not terminating: it acts inside the StatefulSet's window.
          const { lostAt, window } = seen.old;
          const created = 'the Deployment replacement, created while the StatefulSet made none';
          expect(seen.createdAt, created).to.be.within(lostAt, window.to);
          expect(seen.pending?.metadata?.uid, `a new ${LOCAL}`).to.not.be.oneOf([undefined, seen.old.uid]);
          expect(seen.pending?.status?.phase, `the new ${LOCAL} while ${VICTIM} is down`).to.equal('Pending');
          expect(seen.message, 'the scheduler').to.match(PINNED);
          expect(seen.back.spec?.nodeName, `${LOCAL} runs where its volume is`).to.equal(VICTIM);
        },
      }),
    ];
  },
};
