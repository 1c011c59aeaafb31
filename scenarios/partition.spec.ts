// (d, the seed's warning) A partition is not a crash: the node is cut off but its pod keeps
// running and writing. Kubernetes does not replace the pod — and this scenario shows why it must
// not: force-deleting the pod starts a second mysqld on another node, on the same volume, while the
// first still runs. ReadWriteOnce does not stop it on shared storage (the `shared` class stands in
// for NFS); only MySQL's own file lock does. Reconnecting the node ends the old pod.
import { expect } from 'chai';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { LAB_NETWORK } from '../lib/cluster/paths.ts';
import { evidence, note, phase } from '../lib/run/console.ts';
import { identityOf } from '../lib/observe/evidence.ts';
import { isPodReady, nodeReadyStatus } from '../lib/observe/k8s-facts.ts';
import { until } from '../lib/observe/waits.ts';
import { createAll, useScenario, waiting, type ScenarioContext } from '../lib/run/context.ts';
import { MYSQL_START_BOUND, sql, startClient } from '../behaviours/support/mysql.ts';
import {
  logLine,
  mysqldOn,
  OTHER,
  proveNoReplacement,
  seedOnVictim,
  VICTIM,
} from '../behaviours/support/node-loss.ts';

const POD = 'mysql-0';

const pod = (ctx: ScenarioContext) => ctx.rec.get<V1Pod>('pods', POD, ctx.ns);
const victim = (ctx: ScenarioContext) => ctx.rec.get<V1Node>('nodes', VICTIM);

describe('partition: the cut-off pod keeps running; a forced replacement would share its volume', function () {
  const scenario = useScenario('partition');

  it('no replacement while partitioned; force delete starts a second mysqld on the same datadir; reconnecting ends the old one', async function () {
    const ctx = scenario();
    phase(`deploy the seed StatefulSet on the shared class (no node affinity), on ${VICTIM}`);
    const seed = seedOnVictim(ctx.ns, 'shared');
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
    await startClient(ctx, 'statefulset-lab-worker');
    const first = await waiting(
      ctx,
      until(ctx.rec, () => (isPodReady(pod(ctx)) ? pod(ctx) : undefined), {
        timeout: MYSQL_START_BOUND,
        why: `${POD} Ready (bound ${MYSQL_START_BOUND}s)`,
      }),
    );
    expect(first.spec?.nodeName, `${POD} starts on the node it prefers`).to.equal(VICTIM);
    const before = identityOf(first);
    await sql(
      ctx,
      `${POD}.mysql`,
      "CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(32)); INSERT INTO lab.t VALUES (1, 'before the partition')",
    );
    ctx.involvedNodes.add(VICTIM);

    phase(`cut ${VICTIM} off the network  ≙ docker network disconnect ${LAB_NETWORK} ${VICTIM}`);
    await ctx.faults.partitionNode(VICTIM);
    const cutAt = Date.now();
    await proveNoReplacement(ctx, POD, before.uid, cutAt);
    const stillRunning = await mysqldOn(VICTIM);
    evidence(
      `partitioned for ${((Date.now() - cutAt) / 1000).toFixed(0)}s: the API says Terminating, the node still runs mysqld`,
      [
        {
          pod: POD,
          uid: before.uid,
          apiPhase: pod(ctx)?.status?.phase,
          deletionTimestamp: String(pod(ctx)?.metadata?.deletionTimestamp ?? ''),
          nodeReady: nodeReadyStatus(victim(ctx)),
          mariadbdOnNode: stillRunning.length,
        },
      ],
    );
    expect(stillRunning, 'the old mysqld keeps running on the cut-off node').to.have.length.above(0);

    phase(
      `force delete ${POD} (what the seed warns against)  ≙ kubectl delete pod ${POD} --grace-period=0 --force`,
    );
    await ctx.faults.deletePod(ctx.ns, POD, { force: true });
    const second = await waiting(
      ctx,
      until(
        ctx.rec,
        () => {
          const p = pod(ctx);
          return p && p.metadata?.uid !== before.uid && p.status?.containerStatuses?.[0]?.state?.running
            ? p
            : undefined;
        },
        { timeout: MYSQL_START_BOUND, why: `a second ${POD} running on another node` },
      ),
    );
    expect(second.spec?.nodeName).to.equal(OTHER);
    // The second server meets the first one's lock on the shared datadir: read from its log stream.
    const lockLine = await waiting(ctx, logLine(ctx, POD, /Unable to lock|Can't lock/i, 150));
    evidence('two mysqld on one volume', [
      {
        node: VICTIM,
        pod: `${POD} (old, force-deleted)`,
        mysqld: (await mysqldOn(VICTIM)).length,
        ready: 'unknown (cut off)',
      },
      {
        node: OTHER,
        pod: `${POD} (new uid ${second.metadata?.uid?.slice(0, 8)})`,
        mysqld: (await mysqldOn(OTHER)).length,
        ready: isPodReady(pod(ctx)),
      },
    ]);
    note(`new server's log: ${lockLine ?? '(no lock message)'}`);
    expect(lockLine, 'the second mysqld cannot lock the datadir the first still holds').to.not.equal(
      undefined,
    );
    expect(isPodReady(pod(ctx)), 'the second pod cannot serve while the first holds the datadir').to.equal(
      false,
    );

    phase(`reconnect ${VICTIM}  ≙ docker network connect --ip <old> kind ${VICTIM}`);
    const reconnectedAt = Date.now();
    await ctx.faults.undoAll();
    await waiting(
      ctx,
      until(ctx.rec, () => nodeReadyStatus(victim(ctx)) === 'True', {
        timeout: 120,
        why: `${VICTIM} Ready again (bound 120 s)`,
      }),
    );
    const ready = await waiting(
      ctx,
      until(ctx.rec, () => (isPodReady(pod(ctx)) ? pod(ctx) : undefined), {
        timeout: 300,
        why: `the new ${POD} Ready once the old mysqld is gone (bound 300 s: kubelet sync + crash-loop back-off + MySQL start)`,
      }),
    );
    const leftOnVictim = await mysqldOn(VICTIM);
    evidence('after reconnecting', [
      {
        pod: POD,
        uid: ready.metadata?.uid,
        node: ready.spec?.nodeName,
        readyAfterReconnect: `${((Date.now() - reconnectedAt) / 1000).toFixed(1)}s`,
        mysqldLeftOnOldNode: leftOnVictim.length,
      },
    ]);
    expect(leftOnVictim, 'the returning kubelet stopped the old mysqld').to.have.length(0);
    expect(await sql(ctx, `${POD}.mysql`, 'SELECT v FROM lab.t WHERE id = 1')).to.equal(
      'before the partition',
    );
  });
});
