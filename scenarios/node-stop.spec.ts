// (d) After a node stops, the StatefulSet does NOT replace its pod: the old pod object stays
// (Terminating once evicted) because only that node's kubelet may confirm it is gone, and the
// controller never runs two pods with one identity. Each operator action that ends the wait is
// shown as its own case: force-delete the pod, start the node again, delete the Node object, taint
// it out-of-service.
//
// The volume is on the `shared` class (no node affinity) so the replacement can run on another
// node; pods tolerate the unreachable taint for TOLERATION seconds (set in the pod template, as
// the issue allows) instead of the cluster's default.
import { expect } from 'chai';
import type { CoreV1Event, V1Node, V1PersistentVolume, V1Pod } from '@kubernetes/client-node';
import { evidence, note, phase } from '../lib/run/console.ts';
import { identityOf, samePodIdentity, type PodIdentity } from '../lib/observe/evidence.ts';
import { isPodReady, nodeReadyStatus } from '../lib/observe/k8s-facts.ts';
import { until } from '../lib/observe/waits.ts';
import type { Undo } from '../lib/faults/faults.ts';
import { createAll, useScenario, waiting, type ScenarioContext } from '../lib/run/context.ts';
import { MYSQL_START_BOUND } from '../behaviours/support/mysql.ts';
import { deploymentOf } from '../behaviours/support/seed.ts';
import {
  OTHER,
  proveNoReplacement,
  seedOnVictim,
  TOLERATION,
  VICTIM,
} from '../behaviours/support/node-loss.ts';

const POD = 'mysql-0';
// Pod GC deletes pods bound to a vanished Node after a 40 s quarantine and runs every 20 s
// (pkg/controller/podgc; neither is a flag).
const POD_GC_BOUND = 40 + 20 + 20;

function livePod(ctx: ScenarioContext): V1Pod | undefined {
  return ctx.rec.get<V1Pod>('pods', POD, ctx.ns);
}

function readyReplacement(ctx: ScenarioContext, oldUid: string): V1Pod | undefined {
  const p = livePod(ctx);
  return p && p.metadata?.uid !== oldUid && !p.metadata?.deletionTimestamp && isPodReady(p) ? p : undefined;
}

function node(ctx: ScenarioContext, name = VICTIM): V1Node | undefined {
  return ctx.rec.get<V1Node>('nodes', name);
}

/** mysql-0 Ready on the victim node: move it there (force delete, it prefers the victim) if needed. */
async function onVictim(ctx: ScenarioContext): Promise<PodIdentity> {
  await waiting(
    ctx,
    until(ctx.rec, () => nodeReadyStatus(node(ctx)) === 'True' && node(ctx), {
      timeout: 120,
      why: `${VICTIM} Ready (bound 120 s)`,
    }),
  );
  let pod = await waiting(
    ctx,
    until(
      ctx.rec,
      () => {
        const p = livePod(ctx);
        return p && !p.metadata?.deletionTimestamp && isPodReady(p) ? p : undefined;
      },
      { timeout: MYSQL_START_BOUND, why: `${POD} Ready` },
    ),
  );
  if (pod.spec?.nodeName !== VICTIM) {
    note(`${POD} runs on ${pod.spec?.nodeName}; moving it back to ${VICTIM}`);
    const uid = pod.metadata!.uid!;
    await ctx.faults.deletePod(ctx.ns, POD, { force: true });
    pod = await waiting(
      ctx,
      until(ctx.rec, () => readyReplacement(ctx, uid), {
        timeout: MYSQL_START_BOUND,
        why: `${POD} Ready again`,
      }),
    );
  }
  expect(pod.spec?.nodeName, `${POD} must start on ${VICTIM} (it prefers it)`).to.equal(VICTIM);
  return identityOf(pod);
}

interface Loss {
  before: PodIdentity;
  stoppedAt: number;
  unknownAt: number;
  evictedAt: number;
  undoStop: Undo;
}

/** Stops the victim node and proves: Ready=Unknown, unreachable taint, pod evicted (Terminating), no replacement. */
async function loseNode(ctx: ScenarioContext): Promise<Loss> {
  const before = await onVictim(ctx);
  ctx.involvedNodes.add(VICTIM);
  phase(`stop node ${VICTIM} (runs ${POD} uid ${before.uid})  ≙ docker stop ${VICTIM}`);
  const undoStop = await ctx.faults.stopNode(VICTIM);
  const stoppedAt = Date.now();
  const { unknownAt, evictedAt } = await proveNoReplacement(ctx, POD, before.uid, stoppedAt);
  evidence(`no replacement for ${((Date.now() - stoppedAt) / 1000).toFixed(0)}s after the stop`, [
    {
      pod: POD,
      uid: before.uid,
      node: VICTIM,
      deletionTimestamp: livePod(ctx)?.metadata?.deletionTimestamp?.toString(),
      phase: livePod(ctx)?.status?.phase,
      nodeReady: nodeReadyStatus(node(ctx)),
    },
  ]);
  return { before, stoppedAt, unknownAt, evictedAt, undoStop };
}

async function expectReplacement(
  ctx: ScenarioContext,
  loss: Loss,
  actedAt: number,
  bound: number,
  why: string,
): Promise<V1Pod> {
  const pod = await waiting(
    ctx,
    until(ctx.rec, () => readyReplacement(ctx, loss.before.uid), {
      timeout: bound,
      why: `a new ${POD} Ready (bound ${bound}s: ${why})`,
    }),
  );
  const after = identityOf(pod);
  samePodIdentity(loss.before, after);
  evidence('replacement', [
    {
      '': 'before',
      name: loss.before.name,
      uid: loss.before.uid,
      node: loss.before.node,
      ip: loss.before.ip,
    },
    {
      '': 'after',
      name: after.name,
      uid: after.uid,
      node: after.node,
      ip: after.ip,
      readyAfterAction: `${((Date.now() - actedAt) / 1000).toFixed(1)}s`,
    },
  ]);
  return pod;
}

/** Starts the node again (if the case did not), and waits until it is Ready and the old pod is gone. */
async function restore(ctx: ScenarioContext, loss: Loss): Promise<void> {
  await loss.undoStop();
  await waiting(
    ctx,
    until(ctx.rec, () => nodeReadyStatus(node(ctx)) === 'True', {
      timeout: 120,
      why: `${VICTIM} Ready again (bound 120 s)`,
    }),
  );
}

describe('node-stop: no replacement pod until an operator acts', function () {
  const scenario = useScenario('node-stop');

  before(async function () {
    this.timeout((MYSQL_START_BOUND + 60) * 1000);
    const ctx = scenario();
    phase(
      `deploy the seed StatefulSet on the shared class, pods tolerate unreachable for ${TOLERATION}s, preferring ${VICTIM}`,
    );
    const seed = seedOnVictim(ctx.ns, 'shared');
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
    const s = ctx.settings;
    note(`live settings: ${Object.values(s.sources).join('; ')}`);
  });

  it('(b) force-deleting the Terminating pod lets the controller replace it at once', async function () {
    this.timeout(600_000);
    const ctx = scenario();
    const loss = await loseNode(ctx);
    phase(
      `force delete ${POD}  ≙ kubectl delete pod ${POD} --grace-period=0 --force (split-brain risk if the node still ran it)`,
    );
    const actedAt = Date.now();
    await ctx.faults.deletePod(ctx.ns, POD, { force: true });
    const pod = await expectReplacement(
      ctx,
      loss,
      actedAt,
      MYSQL_START_BOUND,
      'MySQL start on the shared volume',
    );
    expect(pod.spec?.nodeName).to.equal(OTHER);
    await restore(ctx, loss);
  });

  it('(c) starting the node again lets its kubelet finish the deletion, then the pod is recreated', async function () {
    this.timeout(600_000);
    const ctx = scenario();
    const loss = await loseNode(ctx);
    phase(`start node ${VICTIM} again  ≙ docker start ${VICTIM}`);
    const actedAt = Date.now();
    await loss.undoStop();
    await expectReplacement(
      ctx,
      loss,
      actedAt,
      120 + MYSQL_START_BOUND,
      'node boot + kubelet confirms the deletion + MySQL start',
    );
    await restore(ctx, loss);
  });

  it('(a) deleting the Node object lets pod GC remove the pod, then it is recreated elsewhere', async function () {
    this.timeout(600_000);
    const ctx = scenario();
    const loss = await loseNode(ctx);
    phase(`delete the Node object  ≙ kubectl delete node ${VICTIM}`);
    const actedAt = Date.now();
    await ctx.faults.deleteNodeObject(VICTIM);
    const pod = await expectReplacement(
      ctx,
      loss,
      actedAt,
      POD_GC_BOUND + MYSQL_START_BOUND,
      `pod GC quarantine 40 s + GC period 20 s + MySQL start`,
    );
    expect(pod.spec?.nodeName).to.equal(OTHER);
    await ctx.faults.undoAll(); // start the node: its kubelet registers the Node again
    await waiting(
      ctx,
      until(ctx.rec, () => nodeReadyStatus(node(ctx)) === 'True', {
        timeout: 120,
        why: `${VICTIM} registered and Ready again (bound 120 s)`,
      }),
    );
  });

  it('(d) the out-of-service taint force-deletes the pod, then it is recreated elsewhere', async function () {
    this.timeout(600_000);
    const ctx = scenario();
    const loss = await loseNode(ctx);
    phase(
      `taint ${VICTIM} out-of-service  ≙ kubectl taint node ${VICTIM} node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`,
    );
    const actedAt = Date.now();
    await ctx.faults.taintOutOfService(VICTIM);
    const pod = await expectReplacement(
      ctx,
      loss,
      actedAt,
      60 + MYSQL_START_BOUND,
      'pod GC acts on out-of-service nodes at its next pass + MySQL start',
    );
    expect(pod.spec?.nodeName).to.equal(OTHER);
    await ctx.faults.undoAll(); // removes the taint, starts the node
    await waiting(
      ctx,
      until(ctx.rec, () => nodeReadyStatus(node(ctx)) === 'True' && !node(ctx)?.spec?.taints?.length, {
        timeout: 120,
        why: `${VICTIM} Ready and untainted (bound 120 s)`,
      }),
    );
  });
});

describe('node-stop contrast: node-local volumes, and a Deployment', function () {
  const scenario = useScenario('node-stop-contrast');

  it('the Deployment replaces its pod elsewhere at once; the StatefulSet does not, and with a node-local PV even a forced replacement stays Pending', async function () {
    this.timeout(900_000);
    const ctx = scenario();
    const s = ctx.settings;
    const seed = seedOnVictim(ctx.ns, 'standard');
    const web = deploymentOf(seed.statefulSet, 'web');
    phase(
      `deploy the seed StatefulSet on node-local storage and a Deployment of the same template, both on ${VICTIM}`,
    );
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet, web]);
    const stsPod = await waiting(
      ctx,
      until(ctx.rec, () => (isPodReady(livePod(ctx)) ? livePod(ctx) : undefined), {
        timeout: MYSQL_START_BOUND,
        why: `${POD} Ready`,
      }),
    );
    const webPods = () => ctx.rec.objects<V1Pod>('pods').filter((p) => p.metadata?.labels?.app === 'web');
    const webPod = await waiting(
      ctx,
      until(ctx.rec, () => webPods().find((p) => isPodReady(p)), {
        timeout: MYSQL_START_BOUND,
        why: 'the Deployment pod Ready',
      }),
    );
    expect(stsPod.spec?.nodeName).to.equal(VICTIM);
    expect(webPod.spec?.nodeName).to.equal(VICTIM);
    const pv = ctx.rec
      .objects<V1PersistentVolume>('persistentvolumes')
      .find((v) => v.spec?.claimRef?.name === 'pvc-mysql-0' && v.spec.claimRef.namespace === ctx.ns);
    note(
      `PV ${pv?.metadata?.name} node affinity: ${JSON.stringify(pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions)}`,
    );

    ctx.involvedNodes.add(VICTIM);
    phase(`stop ${VICTIM}  ≙ docker stop ${VICTIM}`);
    const undoStop = await ctx.faults.stopNode(VICTIM);
    const stoppedAt = Date.now();
    const bound =
      s.nodeMonitorGracePeriod +
      s.nodeMonitorPeriod +
      s.nodeLeaseDurationSeconds +
      TOLERATION +
      2 * s.nodeMonitorPeriod +
      MYSQL_START_BOUND;
    const newWeb = await waiting(
      ctx,
      until(ctx.rec, () => webPods().find((p) => p.metadata?.uid !== webPod.metadata?.uid && isPodReady(p)), {
        timeout: bound,
        why: `a new Deployment pod Ready elsewhere (bound ${bound}s: grace + period + lease + toleration + MySQL start)`,
      }),
    );
    const stsNow = livePod(ctx);
    evidence(`${((Date.now() - stoppedAt) / 1000).toFixed(0)}s after the stop`, [
      {
        owner: 'Deployment',
        pod: webPod.metadata?.name,
        node: VICTIM,
        state: 'Terminating (kept until the node confirms)',
        replacement: `${newWeb.metadata?.name} on ${newWeb.spec?.nodeName}, Ready`,
      },
      {
        owner: 'StatefulSet',
        pod: POD,
        node: VICTIM,
        state: stsNow?.metadata?.deletionTimestamp ? 'Terminating' : String(stsNow?.status?.phase),
        replacement: stsNow?.metadata?.uid === stsPod.metadata?.uid ? 'none' : `uid ${stsNow?.metadata?.uid}`,
      },
    ]);
    note(
      'a ReplicaSet counts pods that are not terminating, so it adds one at once; a StatefulSet must never run two pods with one identity, so it waits for the old object to go',
    );
    expect(newWeb.metadata?.name, 'the Deployment replacement has a new name').to.not.equal(
      webPod.metadata?.name,
    );
    expect(newWeb.spec?.nodeName).to.equal(OTHER);
    expect(stsNow?.metadata?.uid, 'no StatefulSet replacement').to.equal(stsPod.metadata?.uid);

    phase(`force delete ${POD}: its PV is pinned to ${VICTIM}, so the replacement cannot run anywhere else`);
    await until(ctx.rec, () => livePod(ctx)?.metadata?.deletionTimestamp, {
      timeout: TOLERATION + 2 * s.nodeMonitorPeriod + 10,
      why: `${POD} evicted`,
    });
    await ctx.faults.deletePod(ctx.ns, POD, { force: true });
    const schedulingFailure = await waiting(
      ctx,
      until(
        ctx.rec,
        () =>
          ctx.rec
            .objects<CoreV1Event>('events')
            .find(
              (e) =>
                e.reason === 'FailedScheduling' &&
                e.involvedObject?.name === POD &&
                e.involvedObject.uid !== stsPod.metadata?.uid,
            ),
        { timeout: 60, why: 'the scheduler reports why the replacement cannot be placed (bound 60 s)' },
      ),
    );
    const pending = livePod(ctx);
    note(
      `replacement ${POD} uid ${pending?.metadata?.uid}: ${pending?.status?.phase}; scheduler: ${schedulingFailure.message}`,
    );
    expect(pending?.status?.phase).to.equal('Pending');
    expect(schedulingFailure.message).to.match(/PersistentVolume's node affinity|volume node affinity/);

    phase(`start ${VICTIM} again: the pending pod lands on the node that holds its volume`);
    await undoStop();
    const back = await waiting(
      ctx,
      until(ctx.rec, () => (isPodReady(livePod(ctx)) ? livePod(ctx) : undefined), {
        timeout: 120 + MYSQL_START_BOUND,
        why: `${POD} Ready on ${VICTIM} (bound 120 s node boot + MySQL start)`,
      }),
    );
    expect(back.spec?.nodeName).to.equal(VICTIM);
  });
});
