// Lab pvc-retention (seed §1, "data first"): scaling down removes the highest pod but keeps its PVC
// (persistentVolumeClaimRetentionPolicy whenScaled: Retain, the default); scaling up gives the new
// pod the same PVC and so the same data. With whenScaled: Delete the PVC goes with the pod.
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import {
  identityOf,
  samePodIdentity,
  sameVolume,
  volumeOf,
  type VolumeIdentity,
} from '../../lib/observe/evidence.ts';
import { pvcName } from '../../lib/observe/k8s-facts.ts';
import { step, type LabContext, type LabDefinition } from '../../lib/lab/model.ts';
import type { Row } from '../../lib/lab/table.ts';
import { until } from '../../lib/observe/waits.ts';
import { waiting } from '../../lib/run/context.ts';
import { resolveUntil, sql, startClient } from '../../behaviours/support/mysql.ts';
import { pvcRows, scale, scaleDown } from '../../behaviours/support/scale.ts';
import {
  allReady,
  deploySeed,
  holds,
  MYSQL_START_BOUND,
  pod,
  podRow,
  pvc,
  readyPod,
  seconds,
  short,
  shortPv,
} from '../../behaviours/support/lab-rows.ts';

const STS = 'mysql';
const REPLICAS = 2;
const SCALED = 1;
const POD = 'mysql-1';
const CLAIM = `pvc-${POD}`;
const PODS = ['mysql-0', POD];
const CLAIMS = PODS.map((p) => `pvc-${p}`);
const ROW = 'written to mysql-1 before the scale-down';
const WORKERS = ['statefulset-lab-worker', 'statefulset-lab-worker2'];
/** The garbage collector deletes an owned PVC within seconds of its owner pod. */
const PVC_GC_BOUND = 60;

/** The PVC rows of the shared scenario helper, cut to fit a terminal. */
function claimRows(ctx: LabContext): Row[] {
  return pvcRows(ctx, CLAIMS).map((r) => ({
    pvc: r.pvc,
    exists: r.exists ? 'yes' : 'no',
    uid: short(r.uid === '-' ? undefined : r.uid),
    phase: r.phase,
    pv: shortPv(r.pv),
    'pv phase': r.pvPhase,
    owner: r.exists ? r.owner : '-',
  }));
}

async function liveSts(ctx: LabContext): Promise<V1StatefulSet> {
  return ctx.kube.apps.readNamespacedStatefulSet({ name: STS, namespace: ctx.ns });
}

export const pvcRetention: LabDefinition = {
  name: 'pvc-retention',
  steps() {
    let first: V1Pod | undefined;
    let kept: VolumeIdentity | undefined;
    const volume = (ctx: LabContext) => {
      const c = pvc(ctx, CLAIM);
      return c ? volumeOf(c) : undefined;
    };
    return [
      step({
        id: 'deploy',
        async action(ctx) {
          await deploySeed(ctx, { replicas: REPLICAS, nodeNames: WORKERS });
          await startClient(ctx, WORKERS[0]);
          const pods = await allReady(ctx, PODS, REPLICAS * MYSQL_START_BOUND);
          first = pods[1];
          await sql(
            ctx,
            `${POD}.mysql`,
            `CREATE DATABASE lab; CREATE TABLE lab.notes (id INT PRIMARY KEY, text VARCHAR(64)); INSERT INTO lab.notes VALUES (1, '${ROW}')`,
          );
          const read = await sql(ctx, `${POD}.mysql`, 'SELECT text FROM lab.notes WHERE id = 1');
          const policy = (await liveSts(ctx)).spec?.persistentVolumeClaimRetentionPolicy;
          const whenScaled = policy?.whenScaled ?? 'unset';
          const whenDeleted = policy?.whenDeleted ?? 'unset';
          return {
            tables: [
              {
                title: 'pods',
                rows: pods.map((p) => podRow(ctx, p, { row: p.metadata!.name === POD ? read : '' })),
              },
              {
                title: 'live spec.persistentVolumeClaimRetentionPolicy',
                rows: [{ whenScaled, whenDeleted }],
              },
            ],
            read,
            whenScaled,
            whenDeleted,
            vars: { row: read, whenScaled, whenDeleted },
          };
        },
        check: ({ read, whenScaled, whenDeleted }) => ({
          held: read === ROW && whenScaled === 'Retain' && whenDeleted === 'Retain',
        }),
      }),
      step({
        id: 'scale-down',
        async action(ctx) {
          kept = volume(ctx);
          const { at } = await scaleDown(ctx, await liveSts(ctx), SCALED);
          const podGone = ctx.rec.history('pods', POD).find((e) => e.type === 'DELETED' && e.at >= at);
          const now = volume(ctx);
          const claimDeleted = ctx.rec
            .history('persistentvolumeclaims', CLAIM)
            .some((e) => e.type === 'DELETED' && e.at >= at);
          return {
            tables: [
              {
                title: 'pods',
                rows: PODS.map((n) => {
                  const p = pod(ctx, n);
                  return podRow(ctx, p, { pod: n, state: p ? 'running' : 'deleted' });
                }),
              },
              { title: 'PVCs', rows: claimRows(ctx) },
            ],
            podGone: !!podGone && !pod(ctx, POD),
            before: kept,
            now,
            phase: pvc(ctx, CLAIM)?.status?.phase,
            owners: pvc(ctx, CLAIM)?.metadata?.ownerReferences?.length ?? 0,
            claimDeleted,
            vars: {
              pvc: CLAIM,
              seconds: podGone ? seconds(at, podGone.at) : '-',
              phase: pvc(ctx, CLAIM)?.status?.phase ?? 'gone',
            },
          };
        },
        check: ({ podGone, before, now, phase, owners, claimDeleted }) => ({
          held:
            podGone &&
            !claimDeleted &&
            phase === 'Bound' &&
            owners === 0 &&
            !!before &&
            !!now &&
            holds(() => sameVolume(before, now)),
        }),
      }),
      step({
        id: 'scale-up',
        async action(ctx) {
          const old = identityOf(first!);
          const at = await scale(ctx, STS, REPLICAS);
          const again = await waiting(
            ctx,
            until(ctx.rec, () => readyPod(ctx, POD, old.uid), {
              timeout: MYSQL_START_BOUND,
              why: `a new ${POD} Ready (bound ${MYSQL_START_BOUND}s: MySQL starts on the kept datadir)`,
            }),
          );
          const readyAt = Date.now();
          const now = volume(ctx);
          const ip = again.status!.podIP!;
          const dns = await resolveUntil(ctx, `${POD}.mysql`, [ip]);
          const read = await sql(ctx, `${POD}.mysql`, 'SELECT text FROM lab.notes WHERE id = 1');
          const rows = [
            { '': 'before', ...podRow(ctx, first), pvc: kept?.pvc, pv: shortPv(kept?.pv) },
            { '': 'after', ...podRow(ctx, again), ready: `+${seconds(at, readyAt)}s`, row: read },
          ];
          return {
            tables: [
              { title: `${POD} before the scale-down and after the scale-up`, rows },
              { title: 'PVCs', rows: claimRows(ctx) },
            ],
            old,
            now: identityOf(again),
            claim: pvcName(again),
            volBefore: kept,
            volAfter: now,
            read,
            vars: {
              pvc: CLAIM,
              uid: short(now?.pvcUid),
              pv: shortPv(now?.pv) ?? '-',
              row: read,
              ip: dns.ips.join(','),
            },
          };
        },
        check: ({ old, now, claim, volBefore, volAfter, read }) => ({
          held:
            holds(() => samePodIdentity(old, now)) &&
            claim === CLAIM &&
            !!volBefore &&
            !!volAfter &&
            holds(() => sameVolume(volBefore, volAfter)) &&
            read === ROW,
        }),
      }),
      step({
        id: 'delete-policy',
        async action(ctx) {
          const keep = pvc(ctx, 'pvc-mysql-0');
          const sts = await ctx.kube.apps.patchNamespacedStatefulSet({
            name: STS,
            namespace: ctx.ns,
            body: [
              {
                op: 'add',
                path: '/spec/persistentVolumeClaimRetentionPolicy',
                value: { whenScaled: 'Delete', whenDeleted: 'Retain' },
              },
            ],
          });
          const { at } = await scaleDown(ctx, sts, SCALED);
          await waiting(
            ctx,
            until(
              ctx.rec,
              () =>
                ctx.rec
                  .history('persistentvolumeclaims', CLAIM)
                  .some((e) => e.type === 'DELETED' && e.at >= at),
              {
                timeout: PVC_GC_BOUND,
                why: `${CLAIM} deleted (bound ${PVC_GC_BOUND}s: the garbage collector deletes an owned PVC within seconds of its owner pod)`,
              },
            ),
          );
          const events = ctx.rec.history('persistentvolumeclaims', CLAIM).filter((e) => e.at >= at);
          const owned = events.find((e) =>
            e.object.metadata?.ownerReferences?.some((o) => o.kind === 'Pod' && o.name === POD),
          );
          const podGone = ctx.rec.history('pods', POD).find((e) => e.type === 'DELETED' && e.at >= at);
          const claimGone = events.find((e) => e.type === 'DELETED');
          const since = (t: number | undefined) => (t === undefined ? '-' : `+${seconds(at, t)}s`);
          const mysql0 = pvc(ctx, 'pvc-mysql-0');
          return {
            tables: [
              {
                title: 'after the scale-down (times from the scale patch)',
                rows: [
                  {
                    pvc: CLAIM,
                    'owner set to pod': since(owned?.at),
                    'pod deleted': since(podGone?.at),
                    'pvc deleted': since(claimGone?.at),
                  },
                ],
              },
              { title: 'PVCs', rows: claimRows(ctx) },
            ],
            owned: !!owned,
            gone: !!claimGone && !pvc(ctx, CLAIM),
            keptBefore: keep ? volumeOf(keep) : undefined,
            keptAfter: mysql0 ? volumeOf(mysql0) : undefined,
            vars: { pvc: CLAIM },
          };
        },
        check: ({ owned, gone, keptBefore, keptAfter }) => ({
          held:
            owned && gone && !!keptBefore && !!keptAfter && holds(() => sameVolume(keptBefore, keptAfter)),
        }),
      }),
    ];
  },
};
