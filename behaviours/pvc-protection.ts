// A PVC deleted while a running pod uses it is not removed: it waits, Terminating, held by the
// kubernetes.io/pvc-protection finalizer, until the pod is gone. A claim no pod uses, deleted right
// after it, is the control: the protection controller works its queue in order, so once the control
// is gone it has judged ours too, and the claim still standing is its decision, not its delay.
import { expect } from 'chai';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { claimOf, podName, STS, THE_STS, WORKLOAD_OBJECTS } from './support/workload.ts';
import type { RecordedEvent } from '../lib/observe/recorder.ts';
import { phase } from '../lib/run/console.ts';
import { createAll, type RunContext, waitFor } from '../lib/run/run.ts';
import { deployWorkload, pvc, readyPod, seconds, uidPrefix } from './support/pods.ts';
import { scaleTo } from './support/scale.ts';

const POD = podName(0);
const CLAIM = claimOf(POD);
/** Same class as the seed's claims; no pod mounts it, so nothing protects it. */
const CONTROL = 'unused-claim';
const CONTROL_SPEC = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } };
const FINALIZER = 'kubernetes.io/pvc-protection';

/** The claim as the API server has it now (a fresh read, not the recorder's copy); undefined once gone. */
const readClaim = (ctx: RunContext, name: string): Promise<V1PersistentVolumeClaim | undefined> =>
  ctx.kube.core
    .readNamespacedPersistentVolumeClaim({ name, namespace: ctx.ns })
    .catch((err: { code?: number }) => (err.code === 404 ? undefined : Promise.reject(err)));

const claimRow = (label: string, c?: V1PersistentVolumeClaim) => ({
  claim: label,
  phase: c?.status?.phase ?? 'gone',
  terminating: c?.metadata?.deletionTimestamp ? 'yes' : 'no',
  finalizers: c?.metadata?.finalizers?.join(',') || 'none',
});

/** A DELETED event of `name` received on the live watch (not reconstructed by a re-list). */
const deletedOnWatch = (ctx: RunContext, name: string, resource = 'persistentvolumeclaims') =>
  ctx.rec.history(resource, name).find((e) => e.type === 'DELETED' && e.source === 'watch');
/** Waits (the controller's reaction bound) for the claim's DELETED on the live watch. */
const untilDeleted = (ctx: RunContext, claim: string, when = '') =>
  waitFor(ctx, `${claim} DELETED on the watch${when}`, ctx.bounds.controllerReaction, () =>
    deletedOnWatch(ctx, claim),
  );

export const pvcProtection: Behaviour = {
  name: 'pvc-protection',
  title: 'a deleted PVC of a running pod waits, Terminating, until the pod is gone',
  plan: {
    creates: [WORKLOAD_OBJECTS(1), `PVC ${CONTROL} (no pod uses it); deletes both claims`],
    faults: [],
  },
  steps() {
    let podUid = '';
    const vars = { pod: POD, claim: CLAIM };
    return [
      step({
        id: 'deploy',
        title: `${POD} Ready on ${CLAIM}; both claims carry the ${FINALIZER} finalizer`,
        async act(ctx) {
          phase(`deploy ${THE_STS} (1 replica) and a claim no pod uses, ${CONTROL}`);
          await deployWorkload(ctx, { replicas: 1 });
          const control = { kind: 'PersistentVolumeClaim', metadata: { name: CONTROL }, spec: CONTROL_SPEC };
          await createAll(ctx, [{ apiVersion: 'v1', ...control }]);
          const pod = await waitFor(ctx, `${POD} Ready`, ctx.bounds.workloadStart, () => readyPod(ctx, POD));
          podUid = pod.metadata!.uid!;
          const claims = [pvc(ctx, CLAIM), pvc(ctx, CONTROL)];
          const rows = [claimRow(CLAIM, claims[0]), claimRow(CONTROL, claims[1])];
          return { tables: [{ title: 'claims', rows }], claims, vars };
        },
        judge({ claims }) {
          expect(claims[0]?.status?.phase, `${CLAIM} is Bound to the running pod's volume`).to.equal('Bound');
          for (const c of claims)
            expect(c?.metadata?.finalizers, `the finalizers of ${c?.metadata?.name}`).to.include(FINALIZER);
        },
      }),
      step({
        id: 'delete-claim',
        title: `deleting ${CLAIM} leaves it Terminating while ${POD} runs; the unused claim goes at once`,
        async act(ctx) {
          phase(`delete ${CLAIM}, then ${CONTROL}  ≙ kubectl delete pvc ${CLAIM} ${CONTROL} --wait=false`);
          const deletedAt = Date.now();
          for (const name of [CLAIM, CONTROL])
            await ctx.kube.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: ctx.ns });
          const gone = await untilDeleted(ctx, CONTROL);
          // Read back from the API server, not from the recorder: the state after the controller acted.
          const claim = await readClaim(ctx, CLAIM);
          const pod = await ctx.kube.core.readNamespacedPod({ name: POD, namespace: ctx.ns });
          const deleted = { 'DELETED at': `+${seconds(deletedAt, gone.at)}s` };
          const rows = [claimRow(CLAIM, claim), { ...claimRow(CONTROL), ...deleted }];
          const podRow = { pod: POD, uid: uidPrefix(pod.metadata?.uid), phase: pod.status?.phase };
          const tables = [
            { title: `read from the API server +${seconds(deletedAt)}s after the delete`, rows },
            { title: 'pod', rows: [podRow] },
          ];
          return { tables, claim: claim?.metadata, pod, claimDeleted: deletedOnWatch(ctx, CLAIM), vars };
        },
        judge({ claim, pod, claimDeleted }) {
          expect(claim, `${CLAIM} still exists after the unused claim was removed`).to.not.equal(undefined);
          const terminating = `${CLAIM} is marked for deletion (Terminating)`;
          expect(claim!.deletionTimestamp, terminating).to.not.equal(undefined);
          expect(claim!.finalizers, `${CLAIM} is held by ${FINALIZER}`).to.include(FINALIZER);
          expect(claimDeleted, `no DELETED event of ${CLAIM} was seen`).to.equal(undefined);
          expect(pod.metadata?.uid, `${POD} is the same pod (uid ${uidPrefix(podUid)})`).to.equal(podUid);
          expect(pod.status?.phase, `${POD} keeps running on its claim`).to.equal('Running');
        },
      }),
      step({
        id: 'pod-gone',
        title: `once ${POD} is gone, ${CLAIM} is removed — after the pod, never before`,
        async act(ctx) {
          phase(`scale the StatefulSet to 0  ≙ kubectl scale sts ${STS} --replicas=0`);
          const { t0: at } = await scaleTo(ctx, STS, 0, ctx.bounds.workloadStop, 'one graceful stop');
          const claimGone = await untilDeleted(ctx, CLAIM, ' once its pod is gone');
          const podGone = deletedOnWatch(ctx, POD, 'pods');
          const when = (e: RecordedEvent | undefined) => (e ? `+${seconds(at, e.at)}s` : 'not seen');
          const rows = [
            { object: `pod ${POD}`, deleted: when(podGone) },
            { object: `claim ${CLAIM}`, deleted: when(claimGone) },
          ];
          const title = 'DELETED events on the live watch, since the scale-down';
          const order = [podGone, claimGone].map((e) => (e ? ctx.rec.events.indexOf(e) : -1));
          return { tables: [{ title, rows }], order, claimNow: await readClaim(ctx, CLAIM), vars };
        },
        judge({ order: [pod, claim], claimNow }) {
          expect(pod, `${POD} DELETED seen on the watch`).to.be.at.least(0);
          const after = `${CLAIM} DELETED seen after ${POD} DELETED, in the order received`;
          expect(claim, after).to.be.above(pod!);
          expect(claimNow, `${CLAIM} is gone from the API server`).to.equal(undefined);
        },
      }),
    ];
  },
};
