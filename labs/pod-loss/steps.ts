// Lab pod-loss (seed §2 c): a deleted pod comes back with the same name and the same volume, a new
// UID and usually a new IP; clients that use the DNS name follow it, and the data is still there.
import type { V1Pod } from '@kubernetes/client-node';
import { identityOf, ipChanged, samePodIdentity, sameVolume, volumeOf } from '../../lib/observe/evidence.ts';
import { step, type LabContext, type LabDefinition } from '../../lib/lab/model.ts';
import { until } from '../../lib/observe/waits.ts';
import { waiting } from '../../lib/run/context.ts';
import { resolveUntil, sql, startClient } from '../../behaviours/support/mysql.ts';
import {
  deploySeed,
  holds,
  MYSQL_START_BOUND,
  podRow,
  pvc,
  readyPod,
} from '../../behaviours/support/lab-rows.ts';

const POD = 'mysql-0';
const ROW = 'written before the loss';
const WORKERS = ['statefulset-lab-worker', 'statefulset-lab-worker2'];

export const podLoss: LabDefinition = {
  name: 'pod-loss',
  steps() {
    let before: V1Pod | undefined;
    let after: V1Pod | undefined;
    const volume = (ctx: LabContext) => volumeOf(pvc(ctx, `pvc-${POD}`)!);
    return [
      step({
        id: 'deploy',
        async action(ctx) {
          await deploySeed(ctx, { replicas: 1, nodeNames: WORKERS });
          await startClient(ctx, WORKERS[0]);
          before = await waiting(
            ctx,
            until(ctx.rec, () => readyPod(ctx, POD), {
              timeout: MYSQL_START_BOUND,
              why: `${POD} Ready (bound ${MYSQL_START_BOUND}s: first start initialises the datadir)`,
            }),
          );
          await sql(
            ctx,
            `${POD}.mysql`,
            `CREATE DATABASE lab; CREATE TABLE lab.notes (id INT PRIMARY KEY, text VARCHAR(64)); INSERT INTO lab.notes VALUES (1, '${ROW}')`,
          );
          const read = await sql(ctx, `${POD}.mysql`, 'SELECT text FROM lab.notes WHERE id = 1');
          return { tables: [{ title: 'pods', rows: [podRow(ctx, before, { row: read })] }], read };
        },
        check: ({ read }) => ({ held: read === ROW, vars: { row: read } }),
      }),
      step({
        id: 'delete',
        async action(ctx) {
          const old = identityOf(before!);
          const volBefore = volume(ctx);
          const deletedAt = Date.now();
          await ctx.faults.deletePod(ctx.ns, POD);
          after = await waiting(
            ctx,
            until(ctx.rec, () => readyPod(ctx, POD, old.uid), {
              timeout: MYSQL_START_BOUND,
              why: `a new ${POD} Ready (bound ${MYSQL_START_BOUND}s: MySQL restart on the existing datadir)`,
            }),
          );
          const now = identityOf(after);
          const rows = [
            { '': 'before', ...podRow(ctx, before) },
            {
              '': 'after',
              ...podRow(ctx, after),
              ready: `+${((Date.now() - deletedAt) / 1000).toFixed(1)}s`,
            },
          ];
          // The PVC row is read now: the same object must have stayed bound to the same PV throughout.
          const volAfter = volume(ctx);
          return {
            tables: [{ title: 'mysql-0 before and after', rows }],
            old,
            now,
            volBefore,
            volAfter,
            notes: [ipChanged(old, now) ? 'ipChanged' : 'ipReused'],
            vars: { oldIp: old.ip ?? '-', newIp: now.ip ?? '-', pvc: volAfter.pvc },
          };
        },
        check: ({ old, now, volBefore, volAfter }) => ({
          held: holds(() => samePodIdentity(old, now)) && holds(() => sameVolume(volBefore, volAfter)),
        }),
      }),
      step({
        id: 'dns-data',
        async action(ctx) {
          const ip = after!.status!.podIP!;
          const dns = await resolveUntil(ctx, `${POD}.mysql`, [ip]);
          const read = await sql(ctx, `${POD}.mysql`, 'SELECT text FROM lab.notes WHERE id = 1');
          const rows = [
            { name: `${POD}.mysql`, answer: dns.ips.join(','), 'pod ip': ip, ttl: dns.ttl, row: read },
          ];
          return { tables: [{ title: 'DNS and data', rows }], ip, dns: dns.ips, read };
        },
        check: ({ ip, dns, read }) => ({
          held: dns.length === 1 && dns[0] === ip && read === ROW,
          vars: { ip, row: read },
        }),
      }),
    ];
  },
};
