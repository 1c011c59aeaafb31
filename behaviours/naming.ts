// (a) Pod and volume share the ordinal: a StatefulSet's pods are <sts>-<n>, with the ordinal in hostname
// and labels, each with its own PVC <template>-<sts>-<n> bound to a PV pvc-<PVC uid>. A Deployment of the
// same template gets hashed names, no per-pod volume and new names for replacements: the same checks fail.
import { expect } from 'chai';
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Volume } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { times } from '../lib/cluster/settings.ts';
import { worker } from '../lib/cluster/topology.ts';
import { EvidenceError } from '../lib/observe/evidence.ts';
import { pvcName } from '../lib/observe/k8s-facts.ts';
import type { EvidenceRow as Row } from '../lib/report/data.ts';
import { phase } from '../lib/run/console.ts';
import { createAll, type RunContext, waitFor } from '../lib/run/run.ts';
import { deployWorkload, pvc, readyPod, seconds } from './support/pods.ts';
import {
  WORKLOAD_OBJECTS,
  claimOf,
  deploymentOf,
  PROFILE,
  renderWorkload,
  STS,
  THE_STS,
} from './support/workload.ts';

// The Deployment of the contrast; the profile's headless Service is the pods' subdomain.
const [DEPLOY, SERVICE] = [`${STS}-deploy`, PROFILE.service];
const [REPLICAS, DEPLOY_REPLICAS] = [3, 2];
// Kept off worker3, the node the node-stop lab stops, so two rooms' labs do not collide on it.
const NODES = [worker(1), worker(2)];
// A Deployment pod's name: <deployment>-<pod-template-hash>-<5 random characters>.
const HASHED_NAME = new RegExp(`^${DEPLOY}-([a-z0-9]{6,10})-([a-z0-9]{5})$`);
const ordinals = (owner: string, n: number) => Array.from({ length: n }, (_, i) => `${owner}-${i}`);
const PODS = ordinals(STS, REPLICAS);
const PVCS = PODS.map(claimOf);
// How the StatefulSet's promises must fail on the Deployment's pods.
const NOT_ORDINAL = new RegExp(`expected pods ${ordinals(DEPLOY, DEPLOY_REPLICAS)}, saw ${DEPLOY}-`);
const NO_OWN_PVC = new RegExp(`${DEPLOY}-.*: expected pvc=${claimOf(DEPLOY)}-.*, saw none`);

type Named = { metadata?: { name?: string } };
const nameOf = (o: Named) => o.metadata!.name!;
const sorted = <T extends Named>(xs: T[]) => xs.sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
/** The live pods a selector's labels match: the StatefulSet's (its template's labels), the Deployment's app=<name>. */
const STS_LABELS = renderWorkload('').statefulSet.spec!.selector.matchLabels!;
const running = (p: V1Pod, labels: Record<string, string>) =>
  Object.entries(labels).every(([k, v]) => p.metadata?.labels?.[k] === v) && !p.metadata?.deletionTimestamp;
const podsOf = (ctx: RunContext, labels: Record<string, string>) =>
  sorted(ctx.rec.objects<V1Pod>('pods').filter((p) => running(p, labels)));
const sourceOf = (v: V1Volume) => Object.entries(v).find(([k, x]) => k !== 'name' && x)?.[0];
const owners = (o: V1Pod | V1PersistentVolumeClaim) =>
  o.metadata?.ownerReferences?.map((r) => `${r.kind}/${r.name}`).join(',') || 'none';

/** Everything that names a pod. */
const podRow = (p: V1Pod): Row => ({
  pod: nameOf(p),
  uid: p.metadata!.uid,
  ip: p.status?.podIP,
  node: p.spec?.nodeName,
  hostname: p.spec?.hostname ?? 'unset',
  subdomain: p.spec?.subdomain ?? 'unset',
  'pod-name': p.metadata?.labels?.['statefulset.kubernetes.io/pod-name'],
  'pod-index': p.metadata?.labels?.['apps.kubernetes.io/pod-index'],
  'revision-hash': p.metadata?.labels?.['controller-revision-hash'],
  'pod-template-hash': p.metadata?.labels?.['pod-template-hash'],
  owner: owners(p),
  'controller uid': p.metadata?.ownerReferences?.find((o) => o.controller)?.uid,
  pvc: pvcName(p) ?? 'none',
  volumes: p.spec?.volumes?.map((v) => `${v.name}:${sourceOf(v)}`).join(','),
});

/** What a StatefulSet promises its pods: names <owner>-<n>, the ordinal in hostname and labels. */
const ordinalPromise = (owner: string, n: number): Row[] =>
  ordinals(owner, n).map((pod, i) => ({ pod, hostname: pod, 'pod-name': pod, 'pod-index': `${i}` }));
/** ... and each its own volume, from the PVC <template>-<pod>. */
const volumePromise = (pods: Row[]): Row[] => pods.map((r) => ({ pod: r.pod, pvc: claimOf(String(r.pod)) }));

/** The rows seen (the tables) against those promised, by first column: the first difference is the evidence. */
function assertRows(seen: Row[], promised: Row[]): void {
  const key = Object.keys(promised[0]!)[0]!;
  const ids = (rows: Row[]) => rows.map((r) => r[key]).join(',') || 'none';
  if (ids(seen) !== ids(promised))
    throw new EvidenceError(`expected ${key}s ${ids(promised)}, saw ${ids(seen)}`);
  promised.forEach((want, i) => {
    for (const [col, value] of Object.entries(want))
      if (seen[i]![col] !== value)
        throw new EvidenceError(`${want[key]}: expected ${col}=${value}, saw ${seen[i]![col] ?? 'unset'}`);
  });
}

export const naming: Behaviour = {
  name: 'naming',
  title: 'pods and volumes share the ordinal',
  plan: { creates: [WORKLOAD_OBJECTS(3), `Deployment ${DEPLOY} (the contrast)`], faults: ['delete pod'] },
  steps: () => [
    step({
      id: 'deploy',
      title: `deploy ${THE_STS} (${REPLICAS} replicas): pods ${PODS.join(', ')} carry the ordinal in name, hostname, subdomain and labels, owned by the StatefulSet, each mounting ${claimOf('<pod>')}`,
      async act(ctx) {
        const apply = `kubectl apply -f <the profile's manifests>; kubectl scale sts ${STS} --replicas=${REPLICAS}`;
        phase(`deploy ${THE_STS} on ${NODES.join(', ')}  ≙ ${apply}`);
        await deployWorkload(ctx, { replicas: REPLICAS, nodeNames: NODES });
        const b = times(REPLICAS, ctx.bounds.workloadStart); // OrderedReady: one MySQL start after another
        await waitFor(ctx, `${PODS.join(', ')} Ready`, b, () => PODS.every((n) => readyPod(ctx, n)));
        const sts = await ctx.kube.apps.readNamespacedStatefulSet({ name: STS, namespace: ctx.ns });
        const pods = podsOf(ctx, STS_LABELS);
        const [rows, names] = [pods.map(podRow), pods.map(nameOf).join(', ')];
        return { tables: [{ title: 'StatefulSet pods', rows }], rows, sts, vars: { names } };
      },
      judge({ rows, sts }) {
        expect(sts.spec?.serviceName, 'the StatefulSet names its headless Service').to.equal(SERVICE);
        // Under the headless Service, owned and controlled by this StatefulSet, of its current revision.
        const [uid, revision] = [sts.metadata!.uid, sts.status?.updateRevision];
        const own = { subdomain: SERVICE, 'controller uid': uid, 'revision-hash': revision };
        const promised = ordinalPromise(STS, REPLICAS).map((r) => ({ ...r, ...own }));
        assertRows(rows, promised);
        assertRows(rows, volumePromise(rows));
      },
    }),
    step({
      id: 'volumes',
      title: `PVCs ${PVCS.join(', ')} are mounted by the pod of their ordinal, Bound to PVs named pvc-<PVC uid>`,
      async act(ctx) {
        phase('the PVCs made from volumeClaimTemplates and their PVs  ≙ kubectl get pvc; kubectl get pv');
        const pvOf = (c?: V1PersistentVolumeClaim) =>
          ctx.rec.get<V1PersistentVolume>('persistentvolumes', c?.spec?.volumeName ?? '');
        // The pods are Ready, so their volumes are bound; the recorder may see the PV a moment later.
        await waitFor(ctx, `${PVCS.join(', ')} Bound, their PVs seen`, ctx.bounds.controllerReaction, () =>
          PVCS.every((n) => pvc(ctx, n)?.status?.phase === 'Bound' && pvOf(pvc(ctx, n))),
        );
        const pods = podsOf(ctx, STS_LABELS);
        const pvcs = sorted(ctx.rec.objects<V1PersistentVolumeClaim>('persistentvolumeclaims'));
        const mounting = (c: V1PersistentVolumeClaim) =>
          pods.filter((p) => pvcName(p) === nameOf(c)).map(nameOf);
        const rows = pvcs.map((c) => ({
          pvc: nameOf(c),
          'pvc uid': c.metadata!.uid,
          phase: c.status?.phase,
          pv: c.spec?.volumeName,
          'pv claimRef uid': pvOf(c)?.spec?.claimRef?.uid,
          'pv node':
            pvOf(c)?.spec?.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values?.[0],
          'pvc owner': owners(c), // none: under the default Retain policy the StatefulSet does not own them
          'mounted by': mounting(c).join(',') || 'none',
        }));
        return { tables: [{ title: 'PVC → PV', rows }], rows };
      },
      judge({ rows }) {
        // Each PVC Bound to the PV pvc-<its uid> that claims it back, mounted by its ordinal's pod only.
        const promised = PVCS.map((pvc, i) => ({ pvc, phase: 'Bound', 'mounted by': PODS[i] }));
        const bound = rows.map(({ pvc, 'pvc uid': u }) => ({ pvc, pv: `pvc-${u}`, 'pv claimRef uid': u }));
        assertRows(rows, promised);
        assertRows(rows, bound);
      },
    }),
    step({
      id: 'deployment',
      title: `contrast: a Deployment of the same template gets hashed names and no per-pod PVC; the StatefulSet's promises fail on it`,
      async act(ctx) {
        phase(`deploy ${DEPLOY}, ${THE_STS}'s pod template in a Deployment  ≙ kubectl apply -f <it>`);
        const sts = renderWorkload(ctx.ns, { replicas: DEPLOY_REPLICAS, nodeNames: NODES }).statefulSet;
        await createAll(ctx, [deploymentOf(sts, DEPLOY)]);
        // Names are given when the ReplicaSet creates the pods: created and scheduled is enough.
        const b = ctx.bounds.podStart;
        const pods = await waitFor(ctx, `${DEPLOY_REPLICAS} pods of ${DEPLOY} scheduled`, b, () => {
          const ps = podsOf(ctx, { app: DEPLOY });
          return ps.length === DEPLOY_REPLICAS && ps.every((p) => p.spec?.nodeName) && ps;
        });
        const pvcs = ctx.rec.objects<V1PersistentVolumeClaim>('persistentvolumeclaims').map(nameOf);
        const [rows, example] = [pods.map(podRow), nameOf(pods[0]!)];
        return { tables: [{ title: 'Deployment pods', rows }], rows, pvcs, vars: { example } };
      },
      judge({ rows, pvcs }) {
        // Each pod <deploy>-<pod-template-hash>-<5 random>, of ReplicaSet <deploy>-<hash>, with no PVC.
        const hashed = rows.map((r) => {
          const h = HASHED_NAME.exec(`${r.pod}`)?.[1] ?? 'none: not <deploy>-<hash>-<5 random>';
          return { pod: r.pod, 'pod-template-hash': h, owner: `ReplicaSet/${DEPLOY}-${h}`, pvc: 'none' };
        });
        assertRows(rows, hashed);
        expect(pvcs, 'no PVC was made for the Deployment').to.have.members(PVCS);
        // Negative test: what the StatefulSet promised and kept above fails on the Deployment.
        const ordinal = ordinalPromise(DEPLOY, DEPLOY_REPLICAS);
        expect(() => assertRows(rows, ordinal)).to.throw(EvidenceError, NOT_ORDINAL);
        expect(() => assertRows(rows, volumePromise(rows))).to.throw(EvidenceError, NO_OWN_PVC);
      },
    }),
    step({
      id: 'replace',
      title: 'contrast: a deleted Deployment pod is replaced by a pod with a NEW hashed name',
      async act(ctx) {
        const before = podsOf(ctx, { app: DEPLOY });
        const [victim, old] = [before[0]!, nameOf(before[0]!)];
        phase(`delete Deployment pod ${old} (uid ${victim.metadata!.uid})  ≙ kubectl delete pod ${old}`);
        const deletedAt = Date.now();
        await ctx.faults.deletePod(ctx.ns, old);
        const b = ctx.bounds.controllerReaction;
        const replacement = await waitFor(ctx, `the ReplicaSet replaces ${old}`, b, () =>
          podsOf(ctx, { app: DEPLOY }).find((p) => !before.some((q) => q.metadata!.uid === p.metadata!.uid)),
        );
        const now = nameOf(replacement);
        const added = ctx.rec.history('pods', now).find((e) => e.type === 'ADDED');
        const after = added ? `+${seconds(deletedAt, added.at)}s` : '-';
        const rows = [
          { '': 'deleted', ...podRow(victim), 'added after delete': '' },
          { '': 'replacement', ...podRow(replacement), 'added after delete': after },
        ];
        return { tables: [{ title: 'Deployment pod replaced', rows }], old, now, vars: { old, new: now } };
      },
      judge({ old, now }) {
        expect(now, 'the replacement has a NEW name').to.not.equal(old);
        expect(now, 'the replacement is <deploy>-<hash>-<5 random>').to.match(HASHED_NAME);
      },
    }),
  ],
};
