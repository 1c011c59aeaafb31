// (c) A lost pod comes back with the same name and the same volume, a new UID and usually a new
// IP: clients must use DNS. Proven for a graceful delete and for a force delete.
import { expect } from 'chai';
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { evidence, note, phase } from '../lib/run/console.ts';
import { identityOf, ipChanged, samePodIdentity, sameVolume, volumeOf } from '../lib/observe/evidence.ts';
import { isPodReady } from '../lib/observe/k8s-facts.ts';
import { until } from '../lib/observe/waits.ts';
import { createAll, useScenario, waiting, type ScenarioContext } from '../lib/run/context.ts';
import { MYSQL_START_BOUND, resolveUntil, sql, startClient } from '../behaviours/support/mysql.ts';
import { renderSeed } from '../behaviours/support/seed.ts';

const POD = 'mysql-0';

function readyPod(ctx: ScenarioContext, otherThanUid?: string): V1Pod | undefined {
  const pod = ctx.rec.get<V1Pod>('pods', POD, ctx.ns);
  return pod && pod.metadata?.uid !== otherThanUid && !pod.metadata?.deletionTimestamp && isPodReady(pod)
    ? pod
    : undefined;
}

describe('pod-loss: a lost pod comes back with the same name and volume', function () {
  const scenario = useScenario('pod-loss');

  before(async function () {
    this.timeout((MYSQL_START_BOUND + 180) * 1000);
    const ctx = scenario();
    phase('deploy the seed StatefulSet (1 replica) and a client pod');
    const seed = renderSeed(ctx.ns, {
      replicas: 1,
      nodeNames: ['statefulset-lab-worker', 'statefulset-lab-worker2'],
    });
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
    await startClient(ctx, 'statefulset-lab-worker');
    await waiting(
      ctx,
      until(ctx.rec, () => readyPod(ctx), {
        timeout: MYSQL_START_BOUND,
        why: `${POD} Running and Ready (bound ${MYSQL_START_BOUND}s: first start initialises the datadir)`,
      }),
    );
    phase('write a row before the loss');
    await sql(
      ctx,
      `${POD}.mysql`,
      "CREATE DATABASE lab; CREATE TABLE lab.notes (id INT PRIMARY KEY, text VARCHAR(64)); INSERT INTO lab.notes VALUES (1, 'written before the loss')",
    );
  });

  for (const mode of ['graceful', 'force'] as const) {
    it(`${mode} delete: same name, new UID, same PVC and PV, DNS follows, data survives`, async function () {
      this.timeout((MYSQL_START_BOUND + 120) * 1000);
      const ctx = scenario();
      const oldPod = readyPod(ctx)!;
      const before = identityOf(oldPod);
      const volBefore = volumeOf(
        ctx.rec.get<V1PersistentVolumeClaim>('persistentvolumeclaims', 'pvc-mysql-0', ctx.ns)!,
      );

      phase(
        `${mode} delete of ${POD} (uid ${before.uid}, ip ${before.ip})  ≙ kubectl delete pod ${POD}${mode === 'force' ? ' --grace-period=0 --force' : ''}`,
      );
      const deletedAt = Date.now();
      await ctx.faults.deletePod(ctx.ns, POD, { force: mode === 'force' });
      const newPod = await waiting(
        ctx,
        until(ctx.rec, () => readyPod(ctx, before.uid), {
          timeout: MYSQL_START_BOUND,
          why: `a new ${POD} Ready (bound ${MYSQL_START_BOUND}s: MySQL restart on the existing datadir)`,
        }),
      );
      const after = identityOf(newPod);
      const volAfter = volumeOf(
        ctx.rec.get<V1PersistentVolumeClaim>('persistentvolumeclaims', 'pvc-mysql-0', ctx.ns)!,
      );
      const history = ctx.rec.history('pods', POD).filter((e) => e.at >= deletedAt);
      const deleted = history.find((e) => e.type === 'DELETED' && e.uid === before.uid);
      const added = history.find((e) => e.type === 'ADDED' && e.uid === after.uid);
      evidence('identity before and after', [
        {
          '': 'before',
          name: before.name,
          uid: before.uid,
          ip: before.ip,
          node: before.node,
          pvc: volBefore.pvc,
          pvcUid: volBefore.pvcUid,
          pv: volBefore.pv,
        },
        {
          '': 'after',
          name: after.name,
          uid: after.uid,
          ip: after.ip,
          node: after.node,
          pvc: volAfter.pvc,
          pvcUid: volAfter.pvcUid,
          pv: volAfter.pv,
        },
      ]);
      note(
        `old pod DELETED +${(((deleted?.at ?? NaN) - deletedAt) / 1000).toFixed(1)}s, new pod ADDED +${(((added?.at ?? NaN) - deletedAt) / 1000).toFixed(1)}s, Ready +${((Date.now() - deletedAt) / 1000).toFixed(1)}s`,
      );

      samePodIdentity(before, after);
      sameVolume(volBefore, volAfter);
      expect(deleted, 'the old pod object was deleted before the new one was made').to.not.equal(undefined);
      expect(added!.at, 'the new pod appeared only after the old one was gone').to.be.at.least(deleted!.at);
      // The new pod mounts the same volume, so the node-local PV pins it to the same node.
      expect(after.node, 'node-local PV: the pod comes back on the node that holds its volume').to.equal(
        before.node,
      );
      note(
        ipChanged(before, after)
          ? `IP changed ${before.ip} -> ${after.ip}`
          : `IP reused: ${after.ip} (the CNI handed out the same free address; not guaranteed either way)`,
      );

      const dns = await resolveUntil(ctx, `${POD}.mysql`, [after.ip!]);
      note(
        `DNS ${POD}.mysql -> ${dns.ips.join(',')} (TTL ${dns.ttl}s, ${dns.tries} quer${dns.tries === 1 ? 'y' : 'ies'})`,
      );
      const row = await sql(ctx, `${POD}.mysql`, 'SELECT text FROM lab.notes WHERE id = 1');
      note(`row read back through DNS: "${row}"`);
      expect(row).to.equal('written before the loss');
    });
  }
});
