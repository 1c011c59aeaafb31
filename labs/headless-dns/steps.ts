// Lab headless-dns (seed §2 b): the headless Service's name resolves to the ready pods' own IPs, in
// an order CoreDNS shuffles per answer; <pod>.mysql resolves to that pod alone; a pod that runs but
// is not ready drops out of the answer (its endpoint turns ready=false) and comes back when ready.
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { step, type LabContext, type LabDefinition } from '../../lib/lab/model.ts';
import { until } from '../../lib/observe/waits.ts';
import {
  endpointRows as rowsOf,
  readyEndpointIps as readyIps,
  restoreMysqlClient,
  serviceSlices,
  slowMysqlClient,
} from '../../behaviours/support/endpoints.ts';
import { waiting } from '../../lib/run/context.ts';
import { resolve, resolveUntil, startClient, type DnsAnswer } from '../../behaviours/support/mysql.ts';
import {
  allReady,
  deploySeed,
  MYSQL_START_BOUND,
  pod,
  seconds,
  short,
} from '../../behaviours/support/lab-rows.ts';

const SERVICE = 'mysql';
const REPLICAS = 3;
const PODS = Array.from({ length: REPLICAS }, (_, i) => `mysql-${i}`);
const WORKERS = ['statefulset-lab-worker', 'statefulset-lab-worker2'];
/** Queries of the service name whose first answer is counted (the scenario's sample size). */
const QUERIES = 30;
/** The pod taken out of rotation. */
const SLOW = 'mysql-2';
/** failureThreshold 3 × (period 2 s + timeout 5 s) = 21 s, then the endpoint controller follows. */
const NOT_READY_BOUND = 60;

const readyEndpointIps = (ctx: LabContext) => readyIps(ctx, SERVICE);
// The lab's table is narrower than the scenario's: no slice name.
const endpointRows = (ctx: LabContext) => rowsOf(ctx, SERVICE).map(({ slice: _slice, ...row }) => row);

/** Exactly these IPs: no more, no fewer, no duplicates, in any order. */
const exactly = (answer: string[], expected: string[]) =>
  answer.length === expected.length && [...answer].sort().join(',') === [...expected].sort().join(',');

/**
 * Asks after each TTL until the answer is `expected`; when it never is, the last answer, so the
 * check can judge (and print) what DNS said instead of the step failing.
 */
async function answerOf(
  ctx: LabContext,
  name: string,
  expected: string[],
): Promise<DnsAnswer & { tries?: number }> {
  return resolveUntil(ctx, name, expected).catch(() => resolve(ctx, name));
}

const restarts = (p: V1Pod | undefined) => p?.status?.containerStatuses?.[0]?.restartCount ?? -1;

/** The first line of a Corefile plugin, comments removed; undefined when the plugin is not there. */
function corefileLine(corefile: string, plugin: string): string | undefined {
  return corefile
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .find((l) => new RegExp(`^${plugin}(\\s|\\{|$)`).test(l));
}

export const headlessDns: LabDefinition = {
  name: 'headless-dns',
  steps() {
    let ips: Record<string, string> = {};
    let slowUid = '';
    let slowRestarts = -1;
    return [
      step({
        id: 'service',
        async action(ctx) {
          await deploySeed(ctx, { replicas: REPLICAS, nodeNames: WORKERS });
          await startClient(ctx, WORKERS[0]);
          const pods = await allReady(ctx, PODS, REPLICAS * MYSQL_START_BOUND);
          ips = Object.fromEntries(pods.map((p) => [p.metadata!.name!, p.status!.podIP!]));
          // The endpoint controller follows the pods' Ready within a moment.
          await waiting(
            ctx,
            until(ctx.rec, () => readyEndpointIps(ctx).length === REPLICAS, {
              timeout: 60,
              why: `${REPLICAS} ready endpoints in the EndpointSlice of ${SERVICE} (bound 60 s: the pods are Ready)`,
            }),
          );
          const svc = await ctx.kube.core.readNamespacedService({ namespace: ctx.ns, name: SERVICE });
          const clusterIP = svc.spec?.clusterIP ?? '-';
          const endpoints = readyEndpointIps(ctx);
          const dns = await answerOf(ctx, SERVICE, Object.values(ips));
          const podRows = pods.map((p) => ({
            pod: p.metadata!.name,
            uid: short(p.metadata!.uid),
            ip: p.status?.podIP,
            node: p.spec?.nodeName,
          }));
          return {
            tables: [
              { title: 'pods', rows: podRows },
              { title: `Service ${SERVICE}`, rows: [{ service: SERVICE, clusterIP }] },
              { title: `EndpointSlice of ${SERVICE}`, rows: endpointRows(ctx) },
              {
                title: `dig ${SERVICE} (from the client pod)`,
                rows: [{ name: SERVICE, answer: dns.ips.join(', ') || 'no A record', ttl: dns.ttl }],
              },
            ],
            clusterIP,
            endpoints,
            answer: dns.ips,
            vars: { clusterIP, answer: dns.ips.join(', ') || 'nothing', count: dns.ips.length },
          };
        },
        check: ({ clusterIP, endpoints, answer }) => ({
          held:
            clusterIP === 'None' &&
            exactly(endpoints, Object.values(ips)) &&
            exactly(answer, endpoints) &&
            answer.length === REPLICAS,
        }),
      }),
      step({
        id: 'shuffle',
        async action(ctx) {
          const cm = await ctx.kube.core.readNamespacedConfigMap({
            namespace: 'kube-system',
            name: 'coredns',
          });
          const corefile = cm.data?.Corefile ?? '';
          const loadbalance = corefileLine(corefile, 'loadbalance');
          const podIps = Object.values(ips);
          const firsts = new Map<string, number>();
          const orders = new Set<string>();
          let wrong = 0;
          for (let i = 0; i < QUERIES; i++) {
            const { ips: answer } = await resolve(ctx, SERVICE);
            if (!exactly(answer, podIps)) wrong++;
            if (answer[0]) firsts.set(answer[0], (firsts.get(answer[0]) ?? 0) + 1);
            orders.add(answer.join(' '));
          }
          const rows = PODS.map((name) => {
            const count = firsts.get(ips[name]!) ?? 0;
            return { pod: name, ip: ips[name], 'first answer': count, '': '█'.repeat(count) };
          });
          const spread = PODS.map((n) => `${n} ×${firsts.get(ips[n]!) ?? 0}`).join(', ');
          return {
            tables: [
              {
                title: 'CoreDNS Corefile (kube-system/coredns)',
                rows: [{ plugin: 'loadbalance', line: loadbalance ?? 'absent' }],
              },
              { title: `first answer of dig ${SERVICE}, ${QUERIES} queries`, rows },
            ],
            firsts,
            wrong,
            vars: { n: QUERIES, spread, distinct: firsts.size, orders: orders.size, wrong },
          };
        },
        // A fixed order would put one pod first every time; with the shuffle on, that happens by
        // chance with probability 3 × (1/3)^30 ≈ 1.5e-14.
        check: ({ firsts, wrong }) => ({ held: wrong === 0 && firsts.size >= 2 }),
      }),
      step({
        id: 'per-pod',
        async action(ctx) {
          const answers = [];
          for (const name of PODS) {
            const dns = await answerOf(ctx, `${name}.${SERVICE}`, [ips[name]!]);
            answers.push({ name, answer: dns.ips, ttl: dns.ttl });
          }
          const rows = answers.map((a) => ({
            name: `${a.name}.${SERVICE}`,
            answer: a.answer.join(', ') || 'no A record',
            'pod ip': ips[a.name],
            ttl: a.ttl,
          }));
          const one = answers.find((a) => a.name === 'mysql-1')!;
          return {
            tables: [{ title: 'per-pod names (hostname.subdomain)', rows }],
            answers,
            vars: { ip: ips['mysql-1']!, answer: one.answer.join(', ') || 'nothing' },
          };
        },
        check: ({ answers }) => ({ held: answers.every((a) => exactly(a.answer, [ips[a.name]!])) }),
      }),
      step({
        id: 'not-ready',
        async action(ctx) {
          const before = pod(ctx, SLOW)!;
          slowUid = before.metadata!.uid!;
          slowRestarts = restarts(before);
          const others = PODS.filter((n) => n !== SLOW).map((n) => ips[n]!);
          const slowedAt = Date.now();
          // Each mysql call in mysql-2 now sleeps first; step 5 puts the client back (and deleting
          // the namespace at the end removes the pod anyway).
          await slowMysqlClient(ctx, SLOW);
          await waiting(
            ctx,
            until(
              ctx.rec,
              () =>
                !isPodReady(pod(ctx, SLOW)) &&
                !readyEndpointIps(ctx).includes(ips[SLOW]!) &&
                readyEndpointIps(ctx).length === REPLICAS - 1,
              {
                timeout: NOT_READY_BOUND,
                why: `${SLOW} Ready=False and its endpoint not ready (bound ${NOT_READY_BOUND} s: 3 failed probes × (period 2 s + timeout 5 s) = 21 s, plus the endpoint controller)`,
              },
            ),
          );
          const notReadyAt = ctx.rec
            .history('pods', SLOW)
            .find((e) => e.at >= slowedAt && !isPodReady(e.object as V1Pod))?.at;
          const droppedAt = ctx.rec
            .history('endpointslices')
            .find(
              (e) =>
                e.at >= slowedAt &&
                (e.object as V1EndpointSlice).endpoints?.some(
                  (p) => p.targetRef?.name === SLOW && p.conditions?.ready === false,
                ),
            )?.at;
          const now = pod(ctx, SLOW)!;
          const endpoint = serviceSlices(ctx, SERVICE)
            .flatMap((s) => s.endpoints ?? [])
            .find((e) => e.targetRef?.name === SLOW);
          const dns = await answerOf(ctx, SERVICE, others);
          const perPod = await resolve(ctx, `${SLOW}.${SERVICE}`);
          const after = (t: number | undefined) => (t ? `+${seconds(slowedAt, t)}s` : '-');
          return {
            tables: [
              {
                title: SLOW,
                rows: [
                  {
                    pod: SLOW,
                    phase: now.status?.phase,
                    ready: isPodReady(now),
                    uid: short(now.metadata!.uid),
                    'same uid': now.metadata!.uid === slowUid,
                    restarts: restarts(now),
                    'Ready=False': after(notReadyAt),
                    'endpoint ready=false': after(droppedAt),
                  },
                ],
              },
              { title: `EndpointSlice of ${SERVICE}`, rows: endpointRows(ctx) },
              {
                title: `DNS while ${SLOW} is not ready`,
                rows: [
                  { name: SERVICE, answer: dns.ips.join(', ') || 'no A record' },
                  { name: `${SLOW}.${SERVICE}`, answer: perPod.ips.join(', ') || 'no A record' },
                ],
              },
            ],
            answer: dns.ips,
            others,
            now,
            endpointReady: endpoint?.conditions?.ready,
            notes: [perPod.ips.length ? 'perPodStays' : 'perPodGone'],
            vars: {
              ip: ips[SLOW]!,
              answer: dns.ips.join(', ') || 'nothing',
              notReady: notReadyAt ? seconds(slowedAt, notReadyAt) : '-',
              dropped: droppedAt ? seconds(slowedAt, droppedAt) : '-',
            },
          };
        },
        check: ({ answer, others, now, endpointReady }) => ({
          held:
            exactly(answer, others) &&
            !answer.includes(ips[SLOW]!) &&
            endpointReady === false &&
            now.status?.phase === 'Running' &&
            now.metadata!.uid === slowUid &&
            restarts(now) === slowRestarts,
        }),
      }),
      step({
        id: 'ready-again',
        async action(ctx) {
          const restoredAt = Date.now();
          await restoreMysqlClient(ctx, SLOW);
          await waiting(
            ctx,
            until(ctx.rec, () => isPodReady(pod(ctx, SLOW)) && readyEndpointIps(ctx).length === REPLICAS, {
              timeout: 60,
              why: `${SLOW} Ready again and back in the EndpointSlice (bound 60 s: the next probe passes within its 2 s period)`,
            }),
          );
          const readyAt = Date.now();
          const dns = await answerOf(ctx, SERVICE, Object.values(ips));
          const now = pod(ctx, SLOW)!;
          return {
            tables: [
              {
                title: SLOW,
                rows: [
                  {
                    pod: SLOW,
                    ready: isPodReady(now),
                    uid: short(now.metadata!.uid),
                    'same uid': now.metadata!.uid === slowUid,
                    restarts: restarts(now),
                    'back after': `+${seconds(restoredAt, readyAt)}s`,
                  },
                ],
              },
              { title: `EndpointSlice of ${SERVICE}`, rows: endpointRows(ctx) },
              {
                title: `dig ${SERVICE}`,
                rows: [{ name: SERVICE, answer: dns.ips.join(', ') || 'no A record' }],
              },
            ],
            answer: dns.ips,
            now,
            vars: { answer: dns.ips.join(', ') || 'nothing', seconds: seconds(restoredAt, readyAt) },
          };
        },
        check: ({ answer, now }) => ({
          held:
            exactly(answer, Object.values(ips)) &&
            now.metadata!.uid === slowUid &&
            restarts(now) === slowRestarts,
        }),
      }),
    ];
  },
};
