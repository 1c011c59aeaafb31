// Lab node-stop (seed §2 d): when the node under mysql-0 stops, Kubernetes marks it Unknown, taints
// it and evicts the pod, but the StatefulSet starts no replacement; force-deleting the pod (one of
// the ways out) lets it start on another node on the same shared volume; the node then rejoins.
import type { V1Pod } from '@kubernetes/client-node';
import {
  identityOf,
  samePodIdentity,
  sameVolume,
  volumeOf,
  type VolumeIdentity,
} from '../../lib/observe/evidence.ts';
import type { Undo } from '../../lib/faults/faults.ts';
import { nodeReadyStatus } from '../../lib/observe/k8s-facts.ts';
import { step, type LabContext, type LabDefinition } from '../../lib/lab/model.ts';
import { until } from '../../lib/observe/waits.ts';
import { waiting } from '../../lib/run/context.ts';
import {
  deployedOnVictim,
  onVictimHeld,
  holds,
  lossObservation,
  LOSS_CLAIM,
  LOSS_POD,
  LOSS_ROW,
  MYSQL_START_BOUND,
  mysqldOn,
  nodeRow,
  pod,
  podRow,
  proveVictimLoss,
  pvc,
  readRow,
  readyPod,
  seconds,
  VICTIM,
  victimBack,
  victimNode,
} from '../../behaviours/support/lab-rows.ts';

export const nodeStop: LabDefinition = {
  name: 'node-stop',
  steps() {
    let before: V1Pod | undefined;
    let volBefore: VolumeIdentity | undefined;
    let undoStop: Undo | undefined;
    let after: V1Pod | undefined;
    const volume = (ctx: LabContext) => volumeOf(pvc(ctx, LOSS_CLAIM)!);
    return [
      step({
        id: 'deploy',
        async action(ctx) {
          const o = await deployedOnVictim(ctx);
          before = o.pod;
          volBefore = volume(ctx);
          return o;
        },
        check: (o) => onVictimHeld(o),
      }),
      step({
        id: 'stop',
        async action(ctx) {
          undoStop = await ctx.faults.stopNode(VICTIM);
          const loss = await proveVictimLoss(ctx, before!.metadata!.uid!, Date.now());
          return lossObservation(ctx, loss, `docker stop ${VICTIM}`);
        },
        check: ({ held }) => ({ held }),
      }),
      step({
        id: 'force-delete',
        async action(ctx) {
          const old = identityOf(before!);
          const deletedAt = Date.now();
          await ctx.faults.deletePod(ctx.ns, LOSS_POD, { force: true });
          after = await waiting(
            ctx,
            until(ctx.rec, () => readyPod(ctx, LOSS_POD, old.uid), {
              timeout: MYSQL_START_BOUND,
              why: `a new ${LOSS_POD} Ready (bound ${MYSQL_START_BOUND}s: MySQL start on the shared volume)`,
            }),
          );
          const readyAfter = seconds(deletedAt);
          const read = await readRow(ctx);
          const now = identityOf(after);
          const volAfter = volume(ctx);
          const rows = [
            { '': 'before', ...podRow(ctx, before) },
            { '': 'after', ...podRow(ctx, after, { ready: `+${readyAfter}s`, row: read }) },
          ];
          return {
            tables: [{ title: `${LOSS_POD} before and after`, rows }],
            old,
            now,
            volAfter,
            read,
            vars: { node: now.node ?? '-', ready: readyAfter, pvc: LOSS_CLAIM, row: read },
          };
        },
        check: ({ old, now, volAfter, read }) => ({
          held:
            holds(() => samePodIdentity(old, now)) &&
            holds(() => sameVolume(volBefore!, volAfter)) &&
            !!now.node &&
            now.node !== VICTIM &&
            read === LOSS_ROW,
        }),
      }),
      step({
        id: 'start',
        async action(ctx) {
          const startedAt = Date.now();
          await undoStop!();
          const readyAfter = await victimBack(ctx, startedAt);
          const mysqld = await mysqldOn(VICTIM);
          const now = pod(ctx, LOSS_POD);
          return {
            tables: [
              {
                title: 'node',
                rows: [{ ...nodeRow(victimNode(ctx), VICTIM), 'Ready after start': `+${readyAfter}s` }],
              },
              {
                title: 'pods',
                rows: [podRow(ctx, now, { 'mariadbd on the restarted node': mysqld.length })],
              },
            ],
            node: victimNode(ctx),
            now,
            mysqld: mysqld.length,
            vars: {
              victim: VICTIM,
              ready: readyAfter,
              node: now?.spec?.nodeName ?? '-',
              mysqld: mysqld.length,
            },
          };
        },
        check: ({ node, now, mysqld }) => ({
          held:
            nodeReadyStatus(node) === 'True' &&
            now?.metadata?.uid === after?.metadata?.uid &&
            now?.spec?.nodeName === after?.spec?.nodeName &&
            mysqld === 0,
        }),
      }),
    ];
  },
};
