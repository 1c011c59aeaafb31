// (b) A headless Service (clusterIP: None) makes DNS answer with the ready pods' own IPs: the
// service name resolves to all of them, in an order CoreDNS's `loadbalance` plugin shuffles per
// response; <pod>.<service> resolves to that pod alone; a pod that is running but not ready is
// left out, and comes back when it is ready again.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { worker } from '../lib/cluster/topology.ts';
import { EvidenceError } from '../lib/observe/evidence.ts';
import { isPodReady } from '../lib/observe/k8s-facts.ts';

import { note, phase } from '../lib/run/console.ts';
import { type RunContext, waitFor } from '../lib/run/run.ts';
import {
  answerIs,
  answerOf,
  coreDnsPlugins,
  dnsRow,
  endpointOf,
  endpointRows,
  readyEndpointIps,
  sampleAnswers,
  slowMysqlClient,
  SLOW_SECONDS,
} from './support/endpoints.ts';
import { deploySeed, pod, podRow, readyPod, seconds, uidPrefix } from './support/pods.ts';
import { resolve, startClient } from './support/mysql.ts';
import { times } from '../lib/cluster/settings.ts';

const SERVICE = 'mysql';
const REPLICAS = 3;
const PODS = Array.from({ length: REPLICAS }, (_, i) => `mysql-${i}`);
const WORKERS = [worker(1), worker(2)];
/** Queries of the service name whose first answer is counted. */
const QUERIES = 30;
/** The pod taken out of rotation. */
const SLOW = 'mysql-2';

const restarts = (p: V1Pod | undefined) => p?.status?.containerStatuses?.[0]?.restartCount ?? -1;
const readyIps = (ctx: RunContext) => readyEndpointIps(ctx, SERVICE);
const said = (ips: string[]) => ips.join(', ') || 'nothing';

export const headlessDns: Behaviour = {
  name: 'headless-dns',
  title: 'the service name resolves to the ready pods',
  steps() {
    let ips: Record<string, string> = {};
    let slowUid = '';
    let slowRestarts = -1;
    const all = () => Object.values(ips);
    const others = () => all().filter((ip) => ip !== ips[SLOW]);

    /** SLOW out of rotation (slow) or back: what the pod, the EndpointSlice and DNS then say. */
    const rotation = async (ctx: RunContext, slow: boolean) => {
      const t = await slowMysqlClient(ctx, SERVICE, SLOW, slow, slow ? REPLICAS - 1 : REPLICAS);
      const [podAt = '-', sliceAt = '-'] = [t.readyAt, t.endpointAt].map((at) => at && seconds(t.since, at));
      const now = pod(ctx, SLOW)!;
      const dns = await answerOf(ctx, SERVICE, slow ? others() : all());
      const perPod = await resolve(ctx, `${SLOW}.${SERVICE}`);
      const rows = [dnsRow(SERVICE, dns), dnsRow(`${SLOW}.${SERVICE}`, perPod)];
      const tables = [
        {
          title: SLOW,
          rows: [
            {
              pod: SLOW,
              phase: now.status?.phase,
              ready: isPodReady(now),
              uid: uidPrefix(now.metadata!.uid),
              'same uid': now.metadata!.uid === slowUid,
              restarts: restarts(now),
              [slow ? 'Ready=False' : 'Ready=True']: `+${podAt}s`,
              [`endpoint ready=${!slow}`]: `+${sliceAt}s`,
            },
          ],
        },
        { title: `EndpointSlice of ${SERVICE}`, rows: endpointRows(ctx, SERVICE) },
        { title: `DNS while ${SLOW} is ${slow ? 'not ready' : 'ready again'}`, rows },
      ];
      return { tables, answer: dns.ips, perPod: perPod.ips, now, endpoints: readyIps(ctx), podAt, sliceAt };
    };
    /** What stays the same through the switch: the pod, its container, its phase. */
    const samePod = (now: V1Pod) => {
      expect(now.status?.phase, `${SLOW} still runs`).to.equal('Running');
      expect(now.metadata!.uid, `${SLOW} is the same pod, never replaced`).to.equal(slowUid);
      expect(restarts(now), `${SLOW}'s restarts (liveness kept passing)`).to.equal(slowRestarts);
    };

    return [
      step({
        id: 'service',
        title: `${REPLICAS} replicas: "${SERVICE}" is headless and resolves to exactly the ready pods' IPs, as the EndpointSlice lists them`,
        async act(ctx) {
          phase(`deploy ${REPLICAS} pods and a client  ≙ kubectl apply -f manifests/mysql-statefulset.yaml`);
          await deploySeed(ctx, { replicas: REPLICAS, nodeNames: WORKERS });
          await startClient(ctx, WORKERS[0]);
          const b = ctx.bounds.mysqlStart;
          await waitFor(
            ctx,
            `${PODS.join(', ')} Ready and ${REPLICAS} ready endpoints (OrderedReady starts them one after another)`,
            times(REPLICAS, b),
            () => PODS.every((n) => readyPod(ctx, n)) && readyIps(ctx).length === REPLICAS,
          );
          const pods = PODS.map((n) => pod(ctx, n)!);
          ips = Object.fromEntries(pods.map((p) => [p.metadata!.name!, p.status!.podIP!]));
          const svc = await ctx.kube.core.readNamespacedService({ namespace: ctx.ns, name: SERVICE });
          const clusterIP = svc.spec?.clusterIP ?? '-';
          const dns = await answerOf(ctx, SERVICE, all());
          return {
            tables: [
              { title: 'pods', rows: pods.map((p) => podRow(ctx, p)) },
              { title: `Service ${SERVICE}`, rows: [{ service: SERVICE, clusterIP }] },
              { title: `EndpointSlice of ${SERVICE}`, rows: endpointRows(ctx, SERVICE) },
              { title: `dig ${SERVICE} (from the client pod)`, rows: [dnsRow(SERVICE, dns)] },
            ],
            clusterIP,
            endpoints: readyIps(ctx),
            answer: dns.ips,
            vars: { clusterIP, answer: said(dns.ips), count: dns.ips.length },
          };
        },
        judge({ clusterIP, endpoints, answer }) {
          expect(clusterIP, `Service ${SERVICE} is headless`).to.equal('None');
          expect(endpoints, 'EndpointSlice ready addresses = pod IPs').to.deep.equal(all().sort());
          answerIs(SERVICE, answer, endpoints, 'the ready endpoints');
        },
      }),
      step({
        id: 'shuffle',
        title: `the order of the answers varies over ${QUERIES} queries (CoreDNS loadbalance)`,
        async act(ctx) {
          const corefile = await coreDnsPlugins(ctx);
          const sample = await sampleAnswers(ctx, SERVICE, QUERIES, ips);
          // Each of the 3 IPs comes first with probability ~1/3 per query, independently: all
          // QUERIES first answers alike has probability 3^(1-QUERIES), ≈ 1.5e-14 for 30.
          note(`P(all ${QUERIES} first answers alike | shuffle) ≈ ${(3 ** (1 - QUERIES)).toExponential(1)}`);
          return {
            tables: [
              { title: 'live CoreDNS Corefile (kube-system/coredns)', rows: corefile.rows },
              { title: `first answer of dig ${SERVICE}, ${QUERIES} queries`, rows: sample.firstRows },
              { title: `full orders seen (${sample.orderRows.length} distinct)`, rows: sample.orderRows },
            ],
            loadbalance: corefile.loadbalance,
            ...sample,
            vars: { n: QUERIES, ...sample.counts },
          };
        },
        judge({ loadbalance, firsts, wrong }) {
          // Without loadbalance CoreDNS answers in a fixed order and nothing below could hold.
          expect(loadbalance, 'the live Corefile has the loadbalance plugin').to.match(/^loadbalance/);
          if (wrong.length)
            answerIs(SERVICE, wrong[0]!, all(), `the ready pods (${wrong.length}/${QUERIES} were not)`);
          if (firsts.length < 2)
            throw new EvidenceError(
              `first answer never varied over ${QUERIES} queries: ${firsts.join(', ')}`,
            );
        },
      }),
      step({
        id: 'per-pod',
        title: `mysql-1.${SERVICE} resolves to mysql-1 alone, and so does each <pod>.${SERVICE}`,
        async act(ctx) {
          const answers = [];
          for (const n of PODS)
            answers.push({ pod: n, ...(await answerOf(ctx, `${n}.${SERVICE}`, [ips[n]!])) });
          const rows = answers.map((a) => ({ ...dnsRow(`${a.pod}.${SERVICE}`, a), 'pod ip': ips[a.pod] }));
          return {
            tables: [{ title: 'per-pod names (hostname.subdomain)', rows }],
            answers,
            vars: { ip: ips['mysql-1']!, answer: said(answers[1]!.ips) },
          };
        },
        judge({ answers }) {
          for (const a of answers) answerIs(`${a.pod}.${SERVICE}`, a.ips, [ips[a.pod]!], `${a.pod}'s IP`);
        },
      }),
      step({
        id: 'not-ready',
        title: `a running pod that is not ready (${SLOW}) is left out, the same pod, not restarted`,
        async act(ctx) {
          const before = pod(ctx, SLOW)!;
          [slowUid, slowRestarts] = [before.metadata!.uid!, restarts(before)];
          phase(
            `make ${SLOW}'s mysql client take ${SLOW_SECONDS}s: readiness (timeout 5s) fails, liveness (timeout 10s) passes  ≙ kubectl exec ${SLOW} -c mysql -- sh -c '<wrap mysql in a ${SLOW_SECONDS}s sleep>'`,
          );
          const seen = await rotation(ctx, true);
          return {
            ...seen,
            endpointReady: endpointOf(ctx, SERVICE, SLOW)?.conditions?.ready,
            notes: [seen.perPod.length ? 'perPodStays' : 'perPodGone'],
            vars: { ip: ips[SLOW]!, answer: said(seen.answer), notReady: seen.podAt, dropped: seen.sliceAt },
          };
        },
        judge({ answer, endpoints, now, endpointReady }) {
          expect(endpointReady, `${SLOW}'s endpoint ready condition in the EndpointSlice`).to.equal(false);
          answerIs(SERVICE, answer, endpoints, 'the ready endpoints');
          answerIs(SERVICE, answer, others(), 'the other pods');
          expect(answer, `${SLOW}'s IP is left out`).to.not.include(ips[SLOW]);
          // Negative test: the same assertion, fed every pod's IP instead of the ready ones, must fail.
          expect(() => answerIs(SERVICE, answer, all(), 'all')).to.throw(EvidenceError, /exactly all/);
          samePod(now);
        },
      }),
      step({
        id: 'ready-again',
        title: `${SLOW} ready again: it is back in the answer, the same pod, never restarted`,
        async act(ctx) {
          phase(`restore ${SLOW}'s mysql client  ≙ kubectl exec ${SLOW} -c mysql -- mv mysql.lab-real mysql`);
          const seen = await rotation(ctx, false);
          return { ...seen, vars: { answer: said(seen.answer), seconds: seen.sliceAt } };
        },
        judge({ answer, endpoints, now }) {
          answerIs(SERVICE, answer, endpoints, 'the ready endpoints');
          answerIs(SERVICE, answer, all(), 'all pods');
          samePod(now);
        },
      }),
    ];
  },
};
