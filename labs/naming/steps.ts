// Lab naming (seed §2 a): a StatefulSet's pods and volumes share the ordinal; a Deployment of the same
// template gets hashed names, no volume of its own, and a new name for a replacement.
import type { V1Pod } from '@kubernetes/client-node';
import { pvcName } from '../../lib/observe/k8s-facts.ts';
import { step, type LabContext, type LabDefinition } from '../../lib/lab/model.ts';
import { until } from '../../lib/observe/waits.ts';
import { createAll, waiting } from '../../lib/run/context.ts';
import { deploymentOf, renderSeed } from '../../behaviours/support/seed.ts';
import { allReady, deploySeed, MYSQL_START_BOUND, pvc, short } from '../../behaviours/support/lab-rows.ts';

const REPLICAS = 3;
const DEPLOY = 'mysql-deploy';
const DEPLOY_REPLICAS = 2;
// Kept off worker3, the node the node-stop lab stops, so two rooms' labs do not collide on it.
const WORKERS = ['statefulset-lab-worker', 'statefulset-lab-worker2'];
const HASHED = new RegExp(`^${DEPLOY}-([a-z0-9]{6,10})-([a-z0-9]{5})$`);
const names = Array.from({ length: REPLICAS }, (_, i) => `mysql-${i}`);

export const naming: LabDefinition = {
  name: 'naming',
  steps() {
    const deployPods = (ctx: LabContext) =>
      ctx.rec
        .objects<V1Pod>('pods')
        .filter((p) => p.metadata?.labels?.app === DEPLOY && !p.metadata.deletionTimestamp)
        .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
    return [
      step({
        id: 'deploy',
        async action(ctx) {
          await deploySeed(ctx, { replicas: REPLICAS, nodeNames: WORKERS });
          const pods = await allReady(ctx, names, REPLICAS * MYSQL_START_BOUND);
          const rows = pods.map((p) => ({
            pod: p.metadata!.name,
            uid: short(p.metadata!.uid),
            ip: p.status?.podIP,
            node: p.spec?.nodeName,
            hostname: p.spec?.hostname,
            subdomain: p.spec?.subdomain,
            'pod-index': p.metadata?.labels?.['apps.kubernetes.io/pod-index'],
          }));
          return { tables: [{ title: 'pods', rows }], pods };
        },
        check({ pods }) {
          const held = pods.every(
            (p, i) =>
              p.metadata!.name === `mysql-${i}` &&
              p.spec?.hostname === p.metadata!.name &&
              p.spec?.subdomain === 'mysql' &&
              p.metadata?.labels?.['apps.kubernetes.io/pod-index'] === String(i),
          );
          return { held, vars: { names: pods.map((p) => p.metadata!.name).join(', ') } };
        },
      }),
      step({
        id: 'volumes',
        async action(ctx) {
          const claims = names.map((n) => `pvc-${n}`);
          // The pods are Ready, so their claims are bound: this returns at once.
          await waiting(
            ctx,
            until(ctx.rec, () => claims.every((c) => pvc(ctx, c)?.status?.phase === 'Bound'), {
              timeout: 60,
              why: `${claims.join(', ')} Bound (bound 60 s: already mounted)`,
            }),
          );
          const pairs = names.map((n) => ({
            pod: ctx.rec.get<V1Pod>('pods', n, ctx.ns)!,
            claim: pvc(ctx, `pvc-${n}`)!,
          }));
          const rows = pairs.map(({ pod, claim }) => ({
            pvc: claim.metadata!.name,
            'pvc uid': short(claim.metadata!.uid),
            phase: claim.status?.phase,
            pv: claim.spec?.volumeName,
            'mounted by': pod.metadata!.name,
          }));
          return { tables: [{ title: 'PVC → PV', rows }], pairs };
        },
        check({ pairs }) {
          const held = pairs.every(
            ({ pod, claim }) =>
              pvcName(pod) === `pvc-${pod.metadata!.name}` &&
              claim.status?.phase === 'Bound' &&
              claim.spec?.volumeName === `pvc-${claim.metadata!.uid}`,
          );
          return { held };
        },
      }),
      step({
        id: 'deployment',
        async action(ctx) {
          const sts = renderSeed(ctx.ns, { replicas: DEPLOY_REPLICAS, nodeNames: WORKERS }).statefulSet;
          await createAll(ctx, [deploymentOf(sts, DEPLOY)]);
          // Names are given when the ReplicaSet creates the pods: created and scheduled is enough.
          const pods = await waiting(
            ctx,
            until(
              ctx.rec,
              () => {
                const ps = deployPods(ctx);
                return ps.length === DEPLOY_REPLICAS && ps.every((p) => p.spec?.nodeName) ? ps : undefined;
              },
              { timeout: 120, why: `${DEPLOY_REPLICAS} pods of ${DEPLOY} scheduled (bound 120 s)` },
            ),
          );
          const rows = pods.map((p) => ({
            pod: p.metadata!.name,
            uid: short(p.metadata!.uid),
            node: p.spec?.nodeName,
            'pod-template-hash': p.metadata?.labels?.['pod-template-hash'],
            pvc: pvcName(p) ?? 'none',
            owner: p.metadata?.ownerReferences?.map((o) => o.kind).join(','),
          }));
          return { tables: [{ title: 'Deployment pods', rows }], pods };
        },
        check({ pods }) {
          const held = pods.every((p) => {
            const m = HASHED.exec(p.metadata!.name!);
            return !!m && m[1] === p.metadata?.labels?.['pod-template-hash'] && !pvcName(p);
          });
          return { held, vars: { example: pods[0]?.metadata?.name ?? '-' } };
        },
      }),
      step({
        id: 'replace',
        async action(ctx) {
          const victim = deployPods(ctx)[0]!;
          const before = new Set(deployPods(ctx).map((p) => p.metadata!.uid));
          await ctx.faults.deletePod(ctx.ns, victim.metadata!.name!);
          const replacement = await waiting(
            ctx,
            until(ctx.rec, () => deployPods(ctx).find((p) => !before.has(p.metadata!.uid)), {
              timeout: 60,
              why: `the ReplicaSet replaces ${victim.metadata!.name} (bound 60 s)`,
            }),
          );
          const row = (what: string, p: V1Pod) => ({
            '': what,
            pod: p.metadata!.name,
            uid: short(p.metadata!.uid),
            node: p.spec?.nodeName,
          });
          const rows = [row('deleted', victim), row('replacement', replacement)];
          return {
            tables: [{ title: 'Deployment pod replaced', rows }],
            victim,
            replacement,
            vars: { old: victim.metadata!.name!, new: replacement.metadata!.name! },
          };
        },
        check({ victim, replacement }) {
          return {
            held:
              replacement.metadata!.name !== victim.metadata!.name &&
              HASHED.test(replacement.metadata!.name!),
          };
        },
      }),
    ];
  },
};
