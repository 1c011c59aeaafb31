// (a) Pod and volume share the ordinal: a StatefulSet's pods are <sts>-<n>, each with its own PVC
// <template>-<sts>-<n> bound to a dynamically provisioned PV pvc-<PVC uid>, a hostname and labels
// that carry the ordinal. A Deployment of the same template gets hashed, random names, no per-pod
// volume, and a replacement pod gets a new name: the same assertions fail on it.
import { expect } from 'chai';
import type {
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { evidence, note, phase } from '../lib/run/console.ts';
import { EvidenceError } from '../lib/observe/evidence.ts';
import { isPodReady, pvcName } from '../lib/observe/k8s-facts.ts';
import { until } from '../lib/observe/waits.ts';
import { createAll, useScenario, waiting, type ScenarioContext } from '../lib/run/context.ts';
import { MYSQL_START_BOUND } from '../behaviours/support/mysql.ts';
import { deploymentOf, renderSeed } from '../behaviours/support/seed.ts';

const STS = 'mysql';
const DEPLOY = 'mysql-deploy';
const REPLICAS = 3;
const WORKERS = ['statefulset-lab-worker', 'statefulset-lab-worker2'];
// A Deployment pod's name: <deployment>-<pod-template-hash>-<5 random characters>.
const HASHED_NAME = new RegExp(`^${DEPLOY}-([a-z0-9]{6,10})-([a-z0-9]{5})$`);

/** Pods named <owner>-0..n-1, carrying the ordinal in hostname, subdomain and labels. */
function assertOrdinalNames(pods: V1Pod[], owner: string, serviceName: string, replicas: number): void {
  const names = pods.map((p) => p.metadata!.name!).sort();
  const want = Array.from({ length: replicas }, (_, i) => `${owner}-${i}`);
  if (names.join(',') !== want.join(','))
    throw new EvidenceError(`expected pod names ${want.join(',')}, saw ${names.join(',') || 'none'}`);
  for (const pod of pods) {
    const name = pod.metadata!.name!;
    const labels = pod.metadata?.labels ?? {};
    const ordinal = name.slice(owner.length + 1);
    const seen = {
      hostname: pod.spec?.hostname,
      subdomain: pod.spec?.subdomain,
      'statefulset.kubernetes.io/pod-name': labels['statefulset.kubernetes.io/pod-name'],
      'apps.kubernetes.io/pod-index': labels['apps.kubernetes.io/pod-index'],
    };
    const expected = {
      hostname: name,
      subdomain: serviceName,
      'statefulset.kubernetes.io/pod-name': name,
      'apps.kubernetes.io/pod-index': ordinal,
    };
    for (const [k, v] of Object.entries(expected)) {
      if (seen[k as keyof typeof seen] !== v)
        throw new EvidenceError(
          `${name}: expected ${k}=${v}, saw ${seen[k as keyof typeof seen] ?? 'unset'}`,
        );
    }
  }
}

/** Each pod mounts its own PVC <template>-<pod>, Bound to the PV pvc-<PVC uid> that claims it back. */
function assertPerPodVolumes(
  pods: V1Pod[],
  template: string,
  pvcs: V1PersistentVolumeClaim[],
  pvs: V1PersistentVolume[],
): void {
  for (const pod of pods) {
    const name = pod.metadata!.name!;
    const claim = pvcName(pod);
    if (claim !== `${template}-${name}`)
      throw new EvidenceError(
        `${name}: expected a volume from PVC ${template}-${name}, mounts ${claim ?? 'no PVC'}`,
      );
    const pvc = pvcs.find((c) => c.metadata?.name === claim);
    if (!pvc) throw new EvidenceError(`${name}: PVC ${claim} does not exist`);
    const uid = pvc.metadata!.uid!;
    if (pvc.status?.phase !== 'Bound' || pvc.spec?.volumeName !== `pvc-${uid}`)
      throw new EvidenceError(
        `${claim}: expected Bound to pvc-${uid}, is ${pvc.status?.phase} -> ${pvc.spec?.volumeName ?? 'no PV'}`,
      );
    const pv = pvs.find((v) => v.metadata?.name === pvc.spec?.volumeName);
    if (pv?.spec?.claimRef?.uid !== uid)
      throw new EvidenceError(
        `PV ${pvc.spec?.volumeName}: expected claimRef uid ${uid}, saw ${pv?.spec?.claimRef?.uid ?? 'no PV'}`,
      );
  }
}

function thrown(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return 'nothing thrown';
}

function podsOf(ctx: ScenarioContext, match: (p: V1Pod) => boolean): V1Pod[] {
  return ctx.rec.objects<V1Pod>('pods').filter((p) => !p.metadata?.deletionTimestamp && match(p));
}

const isStsPod = (p: V1Pod) => p.metadata?.ownerReferences?.some((o) => o.kind === 'StatefulSet') ?? false;
const isDeployPod = (p: V1Pod) => p.metadata?.labels?.app === DEPLOY;

describe('naming: pods and volumes share the ordinal', function () {
  const scenario = useScenario('naming');
  let sts: V1StatefulSet;

  before(async function () {
    this.timeout((REPLICAS * MYSQL_START_BOUND + 60) * 1000);
    const ctx = scenario();
    phase(`deploy the seed StatefulSet (${REPLICAS} replicas on ${WORKERS.join(', ')})`);
    const seed = renderSeed(ctx.ns, { replicas: REPLICAS, nodeNames: WORKERS });
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
    const names = Array.from({ length: REPLICAS }, (_, i) => `${STS}-${i}`);
    const bound = REPLICAS * MYSQL_START_BOUND;
    await waiting(
      ctx,
      until(ctx.rec, () => names.every((n) => isPodReady(ctx.rec.get<V1Pod>('pods', n, ctx.ns))), {
        timeout: bound,
        why: `${names.join(', ')} Ready (bound ${REPLICAS} × MYSQL_START_BOUND ${MYSQL_START_BOUND}s = ${bound}s: OrderedReady starts them one after another)`,
      }),
    );
    sts = await ctx.kube.apps.readNamespacedStatefulSet({ name: STS, namespace: ctx.ns });
  });

  it('pods mysql-0..2 carry the ordinal in name, hostname, subdomain and labels, owned by the StatefulSet', function () {
    const ctx = scenario();
    const pods = podsOf(ctx, isStsPod).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
    evidence(
      'StatefulSet pods',
      pods.map((p) => ({
        name: p.metadata!.name,
        uid: p.metadata!.uid,
        ip: p.status?.podIP,
        node: p.spec?.nodeName,
        hostname: p.spec?.hostname,
        subdomain: p.spec?.subdomain,
        'pod-name': p.metadata?.labels?.['statefulset.kubernetes.io/pod-name'],
        'pod-index': p.metadata?.labels?.['apps.kubernetes.io/pod-index'],
        'revision-hash': p.metadata?.labels?.['controller-revision-hash'],
        owner: p.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`).join(','),
      })),
    );
    assertOrdinalNames(pods, STS, sts.spec!.serviceName!, REPLICAS);
    for (const p of pods) {
      const owner = p.metadata?.ownerReferences?.find((o) => o.controller);
      expect(owner, `${p.metadata!.name} controller owner`).to.include({
        kind: 'StatefulSet',
        name: STS,
        uid: sts.metadata!.uid,
      });
      expect(p.metadata?.labels?.['controller-revision-hash'], 'controller-revision-hash label').to.match(
        new RegExp(`^${STS}-`),
      );
    }
  });

  it('PVCs pvc-mysql-0..2 are Bound to PVs named pvc-<PVC uid>', async function () {
    this.timeout(120_000);
    const ctx = scenario();
    const pvcNames = Array.from({ length: REPLICAS }, (_, i) => `pvc-${STS}-${i}`);
    // The pods are Ready, so their volumes are bound; the recorder may see the PV a moment later.
    await waiting(
      ctx,
      until(
        ctx.rec,
        () =>
          pvcNames.every((n) => {
            const c = ctx.rec.get<V1PersistentVolumeClaim>('persistentvolumeclaims', n, ctx.ns);
            return c?.status?.phase === 'Bound' && ctx.rec.get('persistentvolumes', c.spec!.volumeName!);
          }),
        {
          timeout: 60,
          why: `${pvcNames.join(', ')} Bound and their PVs recorded (bound 60 s: already mounted)`,
        },
      ),
    );
    const pvcs = ctx.rec.objects<V1PersistentVolumeClaim>('persistentvolumeclaims');
    const pvs = ctx.rec.objects<V1PersistentVolume>('persistentvolumes');
    evidence(
      'PVC -> PV',
      pvcs
        .map((c) => {
          const pv = pvs.find((v) => v.metadata?.name === c.spec?.volumeName);
          return {
            pvc: c.metadata!.name,
            pvcUid: c.metadata!.uid,
            phase: c.status?.phase,
            volumeName: c.spec?.volumeName,
            pvClaimRefUid: pv?.spec?.claimRef?.uid,
            pvNode:
              pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values?.join(
                ',',
              ),
            pvcOwner: c.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`).join(',') || 'none',
          };
        })
        .sort((a, b) => a.pvc!.localeCompare(b.pvc!)),
    );
    expect(pvcs.map((c) => c.metadata!.name).sort()).to.deep.equal(pvcNames);
    assertPerPodVolumes(podsOf(ctx, isStsPod), 'pvc', pvcs, pvs);
    note(
      `PVC owner references: ${pvcs.every((c) => !c.metadata?.ownerReferences?.length) ? 'none' : 'present'} — with the default Retain retention policy the controller does not make the StatefulSet own its PVCs`,
    );
  });

  it('contrast: a Deployment of the same template gets hashed names, no per-pod PVC, and new names on replacement', async function () {
    this.timeout((MYSQL_START_BOUND + 120) * 1000);
    const ctx = scenario();
    phase(`deploy ${DEPLOY}: the same pod template run by a Deployment (${REPLICAS} replicas)`);
    await createAll(ctx, [deploymentOf(sts, DEPLOY)]);
    // Names are given when the ReplicaSet creates the pods: waiting for the pods to exist is enough.
    const pods = await waiting(
      ctx,
      until(
        ctx.rec,
        () => {
          const ps = podsOf(ctx, isDeployPod);
          return ps.length === REPLICAS && ps.every((p) => p.spec?.nodeName) ? ps : undefined;
        },
        {
          timeout: 120,
          why: `${REPLICAS} pods of ${DEPLOY} created and scheduled (bound 120 s: no volume to provision)`,
        },
      ),
    );
    evidence(
      'Deployment pods',
      pods.map((p) => ({
        name: p.metadata!.name,
        uid: p.metadata!.uid,
        'pod-template-hash': p.metadata?.labels?.['pod-template-hash'],
        hostname: p.spec?.hostname ?? 'unset',
        subdomain: p.spec?.subdomain ?? 'unset',
        owner: p.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`).join(','),
        volumes: p.spec?.volumes
          ?.map(
            (v) =>
              `${v.name}:${v.persistentVolumeClaim ? 'PVC' : v.emptyDir ? 'emptyDir' : v.projected ? 'projected' : '?'}`,
          )
          .join(','),
      })),
    );
    for (const p of pods) {
      const name = p.metadata!.name!;
      const m = HASHED_NAME.exec(name);
      expect(m, `${name} is <deploy>-<hash>-<5 random>`).to.not.equal(null);
      expect(m![1], `${name}: the middle part is the pod-template-hash`).to.equal(
        p.metadata?.labels?.['pod-template-hash'],
      );
      expect(p.metadata?.ownerReferences?.[0]?.kind, `${name} owner`).to.equal('ReplicaSet');
      expect(pvcName(p), `${name} has no PVC`).to.equal(undefined);
    }
    const pvcs = ctx.rec.objects<V1PersistentVolumeClaim>('persistentvolumeclaims');
    expect(
      pvcs.map((c) => c.metadata!.name),
      'no PVC was made for the Deployment',
    ).to.have.members(['pvc-mysql-0', 'pvc-mysql-1', 'pvc-mysql-2']);

    phase('negative test: the StatefulSet naming and volume assertions run against the Deployment');
    const volumesOf = () =>
      assertPerPodVolumes(pods, 'pvc', pvcs, ctx.rec.objects<V1PersistentVolume>('persistentvolumes'));
    expect(() => assertOrdinalNames(pods, DEPLOY, STS, REPLICAS)).to.throw(
      EvidenceError,
      /expected pod names mysql-deploy-0,mysql-deploy-1,mysql-deploy-2, saw mysql-deploy-/,
    );
    note(
      `assertOrdinalNames threw as it must: ${thrown(() => assertOrdinalNames(pods, DEPLOY, STS, REPLICAS))}`,
    );
    expect(volumesOf).to.throw(EvidenceError, /expected a volume from PVC pvc-mysql-deploy-.*mounts no PVC/);
    note(`assertPerPodVolumes threw as it must: ${thrown(volumesOf)}`);

    const victim = pods.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!))[0]!;
    const victimName = victim.metadata!.name!;
    const before = new Set(pods.map((p) => p.metadata!.uid));
    phase(`delete Deployment pod ${victimName} (uid ${victim.metadata!.uid})`);
    const deletedAt = Date.now();
    await ctx.faults.deletePod(ctx.ns, victimName);
    const replacement = await waiting(
      ctx,
      until(ctx.rec, () => podsOf(ctx, isDeployPod).find((p) => !before.has(p.metadata!.uid)), {
        timeout: 60,
        why: `the ReplicaSet creates a replacement for ${victimName} (bound 60 s: the ReplicaSet reacts within seconds)`,
      }),
    );
    const added = ctx.rec.history('pods', replacement.metadata!.name!).find((e) => e.type === 'ADDED');
    evidence('Deployment pod replaced', [
      { '': 'deleted', name: victimName, uid: victim.metadata!.uid, addedAfterDelete: '' },
      {
        '': 'replacement',
        name: replacement.metadata!.name,
        uid: replacement.metadata!.uid,
        addedAfterDelete: `${(((added?.at ?? NaN) - deletedAt) / 1000).toFixed(1)}s`,
      },
    ]);
    expect(replacement.metadata!.name, 'the replacement has a NEW name').to.not.equal(victimName);
    expect(replacement.metadata!.name).to.match(HASHED_NAME);
  });
});
