// (c) A lost pod comes back with the same name and the same volume, a new UID and usually a new
// IP: clients must use DNS, and the data written before is still there. Proven for a graceful
// delete (shown in the lab) and for a force delete (suite only).
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { worker } from '../lib/cluster/topology.ts';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { identityOf, ipChanged, samePodIdentity, sameVolume, volumeOf } from '../lib/observe/evidence.ts';
import { note, phase } from '../lib/run/console.ts';
import { type RunContext, waitFor } from '../lib/run/run.ts';
import { deployWorkload, podRow, pvc, readyPod, seconds } from './support/pods.ts';
import { answerOf, readMarker, startClient, writeMarker } from './support/client.ts';
import { claimOf, CLIENT_POD, hostOf, podName, THE_STS, WORKLOAD_OBJECTS } from './support/workload.ts';

const POD = podName(0);
const HOST = hostOf(POD);
const ROW = 'written before the loss';
const WORKERS = [worker(1), worker(2)];

export const podLoss: Behaviour = {
  name: 'pod-loss',
  title: 'a lost pod comes back with the same name and volume',
  plan: { creates: [WORKLOAD_OBJECTS(1), CLIENT_POD], faults: ['delete pod', 'force delete pod'] },
  steps() {
    let current: V1Pod | undefined;
    /** The current pod's identity (name, uid, ip, node) and its volume's (pvc, pvcUid, pv). */
    const identity = (ctx: RunContext) => ({ ...identityOf(current!), ...volumeOf(pvc(ctx, claimOf(POD))!) });

    // One loss: delete the pod, see what changed and what stayed; then reach the new pod by DNS.
    const lossSteps = (mode: 'graceful' | 'force', [deleteId, dnsId]: [string, string]) => [
      step({
        id: deleteId,
        title: `${mode} delete: same name, new UID, same PVC and PV, after the old pod is gone`,
        async act(ctx) {
          const before = identity(ctx);
          const force = mode === 'force';
          const kubectl = `kubectl delete pod ${POD}${force ? ' --grace-period=0 --force' : ''}`;
          phase(`${mode} delete of ${POD} (uid ${before.uid}, ip ${before.ip})  ≙ ${kubectl}`);
          const requested = Date.now();
          await ctx.faults.deletePod(ctx.ns, POD, { force });
          const b = ctx.bounds.workloadStart;
          current = await waitFor(ctx, `a new ${POD} Ready`, b, () => readyPod(ctx, POD, before.uid));
          const after = identity(ctx);
          const seen = ctx.rec.history('pods', POD).filter((e) => e.at >= requested);
          const when = (type: string, uid: string) => seen.find((e) => e.type === type && e.uid === uid)?.at;
          const [deletedAt, addedAt] = [when('DELETED', before.uid), when('ADDED', after.uid)];
          const changed = ipChanged(before, after);
          const reused = `IP reused: ${after.ip} (the CNI handed out the same free address; not guaranteed)`;
          note(changed ? `IP changed ${before.ip} -> ${after.ip}` : reused);
          const since = (at: number | undefined) => (at === undefined ? '-' : `+${seconds(requested, at)}s`);
          const events = { 'old pod DELETED': since(deletedAt), 'new pod ADDED': since(addedAt) };
          const rows = Object.entries({ before, after }).map(([label, id]) => ({ '': label, ...id }));
          const tables = [
            { title: `${POD} before and after`, rows },
            { title: 'events since the delete', rows: [{ ...events, 'new pod Ready': since(Date.now()) }] },
          ];
          const notes = [changed ? 'ipChanged' : 'ipReused'];
          const vars = { oldIp: before.ip ?? '-', newIp: after.ip ?? '-', pvc: after.pvc };
          return { tables, before, after, deletedAt, addedAt, notes, vars };
        },
        judge({ before, after, deletedAt, addedAt }) {
          samePodIdentity(before, after);
          sameVolume(before, after);
          expect(deletedAt, 'the old pod object was deleted before the new one was made').to.be.a('number');
          expect(addedAt, 'the new pod was seen ADDED on the watch').to.be.a('number');
          expect(addedAt, 'the new pod appeared only after the old one was gone').to.be.at.least(deletedAt!);
          const sameNode = 'node-local PV: the pod comes back on the node that holds its volume';
          expect(after.node, sameNode).to.equal(before.node);
        },
      }),
      step({
        id: dnsId,
        title: `after the ${mode} delete: ${HOST} resolves to the new pod and the row survived`,
        async act(ctx) {
          const ip = current!.status!.podIP!;
          const dns = await answerOf(ctx, HOST, [ip]);
          const read = await readMarker(ctx, POD);
          const tries = dns.tries === 1 ? '1 query' : `tries: ${dns.tries}`;
          note(`DNS ${HOST} -> ${dns.ips.join(',')} (TTL ${dns.ttl}s, ${tries})`);
          const rows = [{ name: HOST, answer: dns.ips.join(','), 'pod ip': ip, ttl: dns.ttl, row: read }];
          return { tables: [{ title: 'DNS and data', rows }], ip, dns, read, vars: { ip, row: read } };
        },
        judge({ ip, dns, read }) {
          expect(dns.ips, `${HOST} resolves to the new pod's IP only`).to.deep.equal([ip]);
          expect(read, 'the row written before the loss, read back through DNS').to.equal(ROW);
        },
      }),
    ];

    return [
      step({
        id: 'deploy',
        title: `deploy ${THE_STS} (1 replica) and a client pod, write a row through ${HOST}`,
        async act(ctx) {
          phase(`deploy ${THE_STS} (1 replica) and a client pod`);
          await deployWorkload(ctx, { replicas: 1, nodeNames: WORKERS });
          await startClient(ctx, WORKERS[0]);
          const b = ctx.bounds.workloadStart;
          current = await waitFor(ctx, `${POD} Running and Ready`, b, () => readyPod(ctx, POD));
          phase('write a row before the loss');
          await writeMarker(ctx, POD, ROW);
          const read = await readMarker(ctx, POD);
          const rows = [podRow(ctx, current, { row: read })];
          return { tables: [{ title: 'pods', rows }], read, vars: { row: read } };
        },
        judge({ read }) {
          expect(read, 'the row reads back as written').to.equal(ROW);
        },
      }),
      ...lossSteps('graceful', ['delete', 'dns-data']),
      ...lossSteps('force', ['force-delete', 'force-dns-data']),
    ];
  },
};
