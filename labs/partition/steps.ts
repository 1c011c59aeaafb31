// Lab partition (seed §2 d, its warning): a node cut off the network keeps running mysql-0; the
// StatefulSet starts no replacement, and force-deleting the pod shows why: a second mysqld starts on
// another node on the same shared volume (ReadWriteOnce does not stop it) and only MariaDB's own
// lock on the datadir keeps it off the data. Reconnecting the node ends the old server.
import type { V1Pod } from '@kubernetes/client-node';
import type { Undo } from '../../lib/faults/faults.ts';
import { isPodReady, pvcName } from '../../lib/observe/k8s-facts.ts';
import { step, type LabDefinition } from '../../lib/lab/model.ts';
import { LAB_NETWORK } from '../../lib/cluster/paths.ts';
import { until } from '../../lib/observe/waits.ts';
import { waiting } from '../../lib/run/context.ts';
import {
  deployedOnVictim,
  onVictimHeld,
  logLine,
  lossObservation,
  LOSS_CLAIM,
  LOSS_POD,
  LOSS_ROW,
  MYSQL_START_BOUND,
  mysqldOn,
  nodeRow,
  OTHER,
  pod,
  podRow,
  proveVictimLoss,
  readRow,
  readyPod,
  seconds,
  short,
  VICTIM,
  victimBack,
  victimNode,
} from '../../behaviours/support/lab-rows.ts';

/** MariaDB (InnoDB) on a datadir another server holds: "Unable to lock ./ibdata1 error: 11". */
const LOCK_MESSAGE = /Unable to lock|Can't lock/i;
/** How long to follow the new server's log for that line: its first lock attempt comes within seconds. */
const LOCK_LINE_BOUND = 150;
/**
 * Reconnected → the new mysql-0 Ready: the node's status reaches the API, its kubelet learns the old
 * pod is gone and stops mysqld, then the new server's next lock attempt succeeds. If the lab paused
 * long after the force delete, the new server gave up (it retries for 30 s) and its container is in
 * crash-loop back-off, which the kubelet caps at 300 s; then MySQL starts.
 */
const READY_AFTER_RECONNECT_BOUND = 300 + MYSQL_START_BOUND;

export const partition: LabDefinition = {
  name: 'partition',
  steps() {
    let before: V1Pod | undefined;
    let undoCut: Undo | undefined;
    let second: V1Pod | undefined;
    return [
      step({
        id: 'deploy',
        async action(ctx) {
          const o = await deployedOnVictim(ctx);
          before = o.pod;
          return o;
        },
        check: (o) => onVictimHeld(o),
      }),
      step({
        id: 'cut',
        async action(ctx) {
          undoCut = await ctx.faults.partitionNode(VICTIM);
          const loss = await proveVictimLoss(ctx, before!.metadata!.uid!, Date.now());
          const mysqld = (await mysqldOn(VICTIM)).length;
          const seen = lossObservation(ctx, loss, `docker network disconnect ${LAB_NETWORK} ${VICTIM}`, {
            'mariadbd on the node': mysqld,
          });
          return {
            ...seen,
            held: seen.held && mysqld > 0,
            vars: { ...seen.vars, mysqld },
          };
        },
        check: ({ held }) => ({ held }),
      }),
      step({
        id: 'force-delete',
        async action(ctx) {
          const oldUid = before!.metadata!.uid!;
          await ctx.faults.deletePod(ctx.ns, LOSS_POD, { force: true });
          second = await waiting(
            ctx,
            until(
              ctx.rec,
              () => {
                const p = pod(ctx, LOSS_POD);
                return p && p.metadata?.uid !== oldUid && p.status?.containerStatuses?.[0]?.state?.running
                  ? p
                  : undefined;
              },
              {
                timeout: MYSQL_START_BOUND,
                why: `a second ${LOSS_POD} running (bound ${MYSQL_START_BOUND}s: scheduling and container start)`,
              },
            ),
          );
          // The second server meets the first one's lock on the shared datadir: read from its log stream.
          const lock = await waiting(ctx, logLine(ctx, LOSS_POD, LOCK_MESSAGE, LOCK_LINE_BOUND));
          const [onVictim, onOther] = await Promise.all([mysqldOn(VICTIM), mysqldOn(OTHER)]);
          const now = pod(ctx, LOSS_POD);
          const rows = [
            {
              node: VICTIM,
              pod: `${LOSS_POD} (old, force-deleted)`,
              uid: short(oldUid),
              pvc: pvcName(before!),
              mariadbd: onVictim.length,
              ready: 'unknown (cut off)',
            },
            {
              node: second.spec?.nodeName,
              pod: `${LOSS_POD} (new)`,
              uid: short(second.metadata?.uid),
              pvc: pvcName(second),
              mariadbd: onOther.length,
              ready: String(isPodReady(now)),
            },
          ];
          const lockText = lock?.trim() ?? '-';
          return {
            tables: [
              { title: `two mysqld, one ${LOSS_CLAIM}`, rows },
              { title: "the new server's log", rows: [{ line: lockText }] },
            ],
            second,
            lock,
            oldRunning: onVictim.length,
            ready: isPodReady(now),
            vars: {
              uid: short(second.metadata?.uid),
              node: second.spec?.nodeName ?? '-',
              victim: VICTIM,
              pvc: LOSS_CLAIM,
              lock: lockText,
            },
          };
        },
        check: ({ second: p, lock, oldRunning, ready }) => ({
          held:
            p.spec?.nodeName !== VICTIM &&
            !!p.spec?.nodeName &&
            pvcName(p) === LOSS_CLAIM &&
            lock !== undefined &&
            oldRunning > 0 &&
            !ready,
        }),
      }),
      step({
        id: 'reconnect',
        async action(ctx) {
          const reconnectedAt = Date.now();
          await undoCut!();
          const nodeAfter = await victimBack(ctx, reconnectedAt);
          const ready = await waiting(
            ctx,
            until(ctx.rec, () => readyPod(ctx, LOSS_POD, before!.metadata!.uid!), {
              timeout: READY_AFTER_RECONNECT_BOUND,
              why: `the new ${LOSS_POD} Ready once the old mysqld is gone (bound ${READY_AFTER_RECONNECT_BOUND}s: crash-loop back-off ≤ 300 s + MySQL start ${MYSQL_START_BOUND}s)`,
            }),
          );
          const readyAfter = seconds(reconnectedAt);
          const left = (await mysqldOn(VICTIM)).length;
          const read = await readRow(ctx);
          return {
            tables: [
              {
                title: 'node',
                rows: [{ ...nodeRow(victimNode(ctx), VICTIM), 'Ready after': `+${nodeAfter}s` }],
              },
              {
                title: 'pods',
                rows: [
                  podRow(ctx, ready, {
                    'Ready after': `+${readyAfter}s`,
                    [`mariadbd on ${VICTIM}`]: left,
                    row: read,
                  }),
                ],
              },
            ],
            ready,
            left,
            read,
            vars: { victim: VICTIM, node: ready.spec?.nodeName ?? '-', ready: readyAfter, left, row: read },
          };
        },
        check: ({ ready, left, read }) => ({
          held: ready.metadata?.uid === second?.metadata?.uid && left === 0 && read === LOSS_ROW,
        }),
      }),
    ];
  },
};
