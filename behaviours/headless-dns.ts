// (b) A headless Service (clusterIP: None) makes DNS answer with the ready pods' own IPs: the service
// name resolves to all of them, shuffled per response by CoreDNS's `loadbalance` plugin; <pod>.<service>
// resolves to that pod alone; a running pod that is not ready is left out, and comes back when ready.
import { expect } from 'chai';
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { CLIENT_POD, podName, PROFILE, renderWorkload, WORKLOAD_OBJECTS } from './support/workload.ts';
import { times } from '../lib/cluster/settings.ts';
import { kubectl } from '../lib/cluster/shell.ts';
import { worker } from '../lib/cluster/topology.ts';
import { EvidenceError } from '../lib/observe/evidence.ts';
import { isPodReady } from '../lib/observe/k8s-facts.ts';
import type { RecordedEvent } from '../lib/observe/recorder.ts';
import { note, phase } from '../lib/run/console.ts';
import { type RunContext, waitFor } from '../lib/run/run.ts';
import { deployWorkload, pod, podRow, readyPod, seconds, uidPrefix } from './support/pods.ts';
import { answerOf, resolve, startClient, type DnsAnswer } from './support/client.ts';

const SERVICE = PROFILE.service;
const REPLICAS = 3;
const PODS = Array.from({ length: REPLICAS }, (_, i) => podName(i));
const WORKERS = [worker(1), worker(2)];
const QUERIES = 30; // of the service name, whose first answers are counted
const SLOW = podName(2); // the pod taken out of rotation
const [CONTAINER, PROBE] = [PROFILE.container, PROFILE.probe];
// The seed's readiness times out after 5 s, liveness (same command) after 10 s: a mysql client that
// takes 7 s takes the pod out of the Service without a restart (refusing root's login would fail
// liveness too). A profile's own probes give their own numbers.
const probes = renderWorkload('').statefulSet.spec!.template.spec!.containers.find(
  (c) => c.name === CONTAINER,
);
const [READINESS, LIVENESS] = [probes?.readinessProbe, probes?.livenessProbe];
const READY_TIMEOUT = READINESS?.timeoutSeconds ?? 1; // Kubernetes' default
const LIVE_TIMEOUT = LIVENESS ? (LIVENESS.timeoutSeconds ?? 1) : Infinity;
const SLOW_SECONDS = READY_TIMEOUT + 2;

/** One row per endpoint of the Service's EndpointSlices (what CoreDNS answers from), sorted by pod. */
const endpointRows = (ctx: RunContext) =>
  ctx.rec
    .objects<V1EndpointSlice>('endpointslices')
    .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === SERVICE)
    .flatMap((s) =>
      (s.endpoints ?? []).map((e) => ({
        slice: s.metadata!.name,
        pod: e.targetRef?.name,
        hostname: e.hostname,
        ip: e.addresses.join(','),
        ready: e.conditions?.ready,
        serving: e.conditions?.serving,
      })),
    )
    .sort((a, b) => (a.pod ?? '').localeCompare(b.pod ?? ''));
/** The addresses the EndpointSlices mark ready: what CoreDNS serves for a headless Service. */
const readyIps = (ctx: RunContext) => endpointRows(ctx).flatMap((e) => (e.ready ? e.ip.split(',') : []));

const sorted = (ips: string[]) => [...ips].sort().join(', ');
/** Exactly these IPs: no more, no fewer, no duplicates, in any order. */
const sameSet = (a: string[], b: string[]) => a.length === b.length && sorted(a) === sorted(b);
function answerIs(name: string, ips: string[], expected: string[], what: string): void {
  if (!sameSet(ips, expected))
    throw new EvidenceError(`${name} resolved to [${ips}], expected exactly ${what} [${sorted(expected)}]`);
}
/** A DNS answer's row; `tries`: how many queries it took ('gave up': never the expected answer). */
const dnsRow = (name: string, { ips, ttl, tries = 1 }: DnsAnswer & { tries?: number | string }) => ({
  name,
  answer: ips.join(', ') || 'no A record',
  ttl,
  tries,
});
const said = (ips: string[]) => ips.join(', ') || 'nothing';
/** The workload container's restarts; a pod without its status cannot show that it was not restarted. */
function restarts(p: V1Pod | undefined): number {
  const count = p?.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.restartCount;
  if (count === undefined)
    throw new EvidenceError(`${p?.metadata?.name}: no ${CONTAINER} container status to count restarts`);
  return count;
}
/** How many times each key occurs. */
const tally = (keys: string[]) =>
  keys.reduce((counts, k) => counts.set(k, (counts.get(k) ?? 0) + 1), new Map<string, number>());

/** The live Corefile's loadbalance, cache and kubernetes plugins: each one's line (or `{ … }` block). */
async function coreDnsPlugins(ctx: RunContext) {
  const cm = await ctx.kube.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'coredns' });
  const lines = (cm.data?.Corefile ?? '').split('\n').map((l) => l.replace(/#.*/, '').trim());
  const rows = ['loadbalance', 'cache', 'kubernetes'].map((plugin) => {
    const at = lines.findIndex((l) => new RegExp(`^${plugin}(\\s|\\{|$)`).test(l));
    const end = lines[at]?.includes('{') ? lines.findIndex((l, i) => i > at && l.startsWith('}')) : at;
    return { plugin, on: at >= 0, config: at < 0 ? 'absent' : lines.slice(at, end + 1).join(' ') };
  });
  note("loadbalance runs before cache in CoreDNS's plugin chain: each response is shuffled, cached or not");
  return { loadbalance: rows[0]!.config, rows };
}

export const headlessDns: Behaviour = {
  name: 'headless-dns',
  title: 'the service name resolves to the ready pods',
  plan: { creates: [WORKLOAD_OBJECTS(3), CLIENT_POD], faults: [] },
  notApplicable:
    !PROBE || !READINESS
      ? `taking a pod out of rotation slows its readiness probe's program, and profile ${PROFILE.name} names none (probe, and a readinessProbe)`
      : SLOW_SECONDS >= LIVE_TIMEOUT
        ? `a ${SLOW_SECONDS}s ${PROBE} fails readiness (timeout ${READY_TIMEOUT}s) but must pass liveness (timeout ${LIVE_TIMEOUT}s), and would not`
        : undefined,
  steps() {
    let ips: Record<string, string> = {};
    let before = { uid: '', restarts: -1 }; // SLOW before it is taken out of rotation
    const all = () => Object.values(ips);
    const others = () => all().filter((ip) => ip !== ips[SLOW]);

    /** SLOW out of rotation (slow probe program) or back: when Ready and its endpoint turned, what DNS says. */
    const rotation = async (ctx: RunContext, ready: boolean) => {
      if (!ready) before = { uid: pod(ctx, SLOW)!.metadata!.uid!, restarts: restarts(pod(ctx, SLOW)) };
      phase(
        ready
          ? `restore ${SLOW}'s ${PROBE}  ≙ kubectl exec ${SLOW} -c ${CONTAINER} -- mv ${PROBE}.lab-real ${PROBE}`
          : `make ${SLOW}'s ${PROBE} take ${SLOW_SECONDS}s: readiness (timeout ${READY_TIMEOUT}s) fails, liveness (timeout ${LIVE_TIMEOUT}s) passes  ≙ kubectl exec ${SLOW} -c ${CONTAINER} -- sh -c '<wrap ${PROBE} in a ${SLOW_SECONDS}s sleep>'`,
      );
      const since = Date.now();
      const script = ready
        ? `p=$(command -v ${PROBE}) && mv "$p.lab-real" "$p"`
        : `p=$(command -v ${PROBE}) && mv "$p" "$p.lab-real" && printf '#!/bin/sh\\nsleep ${SLOW_SECONDS}\\nexec %s.lab-real "$@"\\n' "$p" > "$p" && chmod +x "$p"`;
      await kubectl(['exec', '-n', ctx.ns, SLOW, '-c', CONTAINER, '--', 'sh', '-c', script]);
      const expected = ready ? all() : others();
      await waitFor(
        ctx,
        `${SLOW} Ready=${ready} and the EndpointSlice of ${SERVICE} ready for exactly [${sorted(expected)}]`,
        ctx.bounds.readinessChange,
        () => isPodReady(pod(ctx, SLOW)) === ready && sameSet(readyIps(ctx), expected),
      );
      const turned = <T>(events: RecordedEvent[], check: (o: T) => boolean | undefined) => {
        const at = events.find((e) => e.at >= since && check(e.object as T))?.at;
        return at ? seconds(since, at) : '-';
      };
      const podAt = turned(ctx.rec.history('pods', SLOW), (p: V1Pod) => isPodReady(p) === ready);
      const sliceAt = turned(ctx.rec.history('endpointslices'), (s: V1EndpointSlice) =>
        s.endpoints?.some((e) => e.targetRef?.name === SLOW && e.conditions?.ready === ready),
      );
      const now = pod(ctx, SLOW)!;
      const dns = await answerOf(ctx, SERVICE, expected);
      const perPod = await resolve(ctx, `${SLOW}.${SERVICE}`);
      const dnsRows = [dnsRow(SERVICE, dns), dnsRow(`${SLOW}.${SERVICE}`, perPod)];
      const slowRow = {
        pod: SLOW,
        phase: now.status?.phase,
        ready: isPodReady(now),
        uid: uidPrefix(now.metadata!.uid),
        'same uid': now.metadata!.uid === before.uid,
        restarts: restarts(now),
        [ready ? 'Ready=True' : 'Ready=False']: `+${podAt}s`,
        [`endpoint ready=${ready}`]: `+${sliceAt}s`,
      };
      const slice = endpointRows(ctx);
      const tables = [
        { title: SLOW, rows: [slowRow] },
        { title: `EndpointSlice of ${SERVICE}`, rows: slice },
        { title: `DNS while ${SLOW} is ${ready ? 'ready again' : 'not ready'}`, rows: dnsRows },
      ];
      const endpointReady = slice.find((e) => e.pod === SLOW)?.ready;
      const notes = ready ? [] : [perPod.ips.length ? 'perPodStays' : 'perPodGone'];
      const vars = {
        answer: said(dns.ips),
        ...(ready ? { seconds: sliceAt } : { ip: ips[SLOW]!, notReady: podAt, dropped: sliceAt }),
      };
      return { tables, dns, now, endpoints: readyIps(ctx), endpointReady, notes, vars };
    };
    /** Both ways: the answer is the ready endpoints and `expected`; SLOW runs on, the same pod, not restarted. */
    const judgeRotation = ({ dns, endpoints, now }: Rotation, expected: string[], what: string) => {
      answerIs(SERVICE, dns.ips, endpoints, 'the ready endpoints');
      answerIs(SERVICE, dns.ips, expected, what);
      expect(now.status?.phase, `${SLOW} still runs`).to.equal('Running');
      expect(now.metadata!.uid, `${SLOW} is the same pod, never replaced`).to.equal(before.uid);
      expect(restarts(now), `${SLOW}'s restarts (liveness kept passing)`).to.equal(before.restarts);
    };
    type Rotation = Awaited<ReturnType<typeof rotation>>;

    return [
      step({
        id: 'service',
        title: `${REPLICAS} replicas: "${SERVICE}" is headless and resolves to exactly the ready pods' IPs, as the EndpointSlice lists them`,
        async act(ctx) {
          phase(`deploy ${REPLICAS} pods and a client  ≙ kubectl apply -f <the profile's manifests>`);
          await deployWorkload(ctx, { replicas: REPLICAS, nodeNames: WORKERS });
          await startClient(ctx, WORKERS[0]);
          await waitFor(
            ctx,
            `${PODS.join(', ')} Ready and ${REPLICAS} ready endpoints (OrderedReady starts them one after another)`,
            times(REPLICAS, ctx.bounds.workloadStart),
            () => PODS.every((n) => readyPod(ctx, n)) && readyIps(ctx).length === REPLICAS,
          );
          ips = Object.fromEntries(PODS.map((n) => [n, pod(ctx, n)!.status!.podIP!]));
          const svc = await ctx.kube.core.readNamespacedService({ namespace: ctx.ns, name: SERVICE });
          const clusterIP = svc.spec?.clusterIP ?? '-';
          const dns = await answerOf(ctx, SERVICE, all());
          const tables = [
            { title: 'pods', rows: PODS.map((n) => podRow(ctx, pod(ctx, n))) },
            { title: `Service ${SERVICE}`, rows: [{ service: SERVICE, clusterIP }] },
            { title: `EndpointSlice of ${SERVICE}`, rows: endpointRows(ctx) },
            { title: `dig ${SERVICE} (from the client pod)`, rows: [dnsRow(SERVICE, dns)] },
          ];
          const vars = { clusterIP, answer: said(dns.ips), count: dns.ips.length };
          return { tables, endpoints: readyIps(ctx).sort(), answer: dns.ips, vars };
        },
        judge({ endpoints, answer, vars }) {
          expect(vars.clusterIP, `Service ${SERVICE} is headless`).to.equal('None');
          expect(endpoints, 'EndpointSlice ready addresses = pod IPs').to.deep.equal(all().sort());
          answerIs(SERVICE, answer, endpoints, 'the ready endpoints');
        },
      }),
      step({
        id: 'shuffle',
        title: `the order of the answers varies over ${QUERIES} queries (CoreDNS loadbalance)`,
        async act(ctx) {
          const corefile = await coreDnsPlugins(ctx);
          const answers: string[][] = [];
          for (let i = 0; i < QUERIES; i++) answers.push((await resolve(ctx, SERVICE)).ips);
          const wrong = answers.filter((answer) => !sameSet(answer, all()));
          const firsts = tally(answers.flatMap((answer) => answer.slice(0, 1)));
          const orders = tally(answers.map((answer) => answer.join(' ')));
          const first = (pod: string) => firsts.get(ips[pod]!) ?? 0;
          const spread = PODS.map((pod) => `${pod} ×${first(pod)}`).join(', ');
          // Each IP comes first with probability ~1/3 per query, independently of the other queries.
          note(`P(all ${QUERIES} first answers alike | shuffle) ≈ ${(3 ** (1 - QUERIES)).toExponential(1)}`);
          return {
            tables: [
              { title: 'live CoreDNS Corefile (kube-system/coredns)', rows: corefile.rows },
              {
                title: `first answer of dig ${SERVICE}, ${QUERIES} queries`,
                rows: PODS.map((pod) => ({
                  pod,
                  ip: ips[pod],
                  'first answer': first(pod),
                  '': '█'.repeat(first(pod)),
                })),
              },
              {
                title: `full orders seen (${orders.size} distinct)`,
                rows: [...orders].map(([order, count]) => ({ order, count })),
              },
            ],
            loadbalance: corefile.loadbalance,
            wrong,
            vars: { n: QUERIES, spread, distinct: firsts.size, orders: orders.size, wrong: wrong.length },
          };
        },
        judge({ loadbalance, wrong, vars }) {
          // Without loadbalance CoreDNS answers in a fixed order and nothing below could hold.
          expect(loadbalance, 'the live Corefile has the loadbalance plugin').to.match(/^loadbalance/);
          if (wrong.length)
            answerIs(SERVICE, wrong[0]!, all(), `the ready pods (${wrong.length}/${QUERIES} were not)`);
          if (vars.distinct < 2)
            throw new EvidenceError(`first answer never varied over ${QUERIES} queries: ${vars.spread}`);
        },
      }),
      step({
        id: 'per-pod',
        title: `${podName(1)}.${SERVICE} resolves to ${podName(1)} alone, and so does each <pod>.${SERVICE}`,
        async act(ctx) {
          const answers = [];
          for (const pod of PODS)
            answers.push({ pod, ...(await answerOf(ctx, `${pod}.${SERVICE}`, [ips[pod]!])) });
          const rows = answers.map((a) => ({ ...dnsRow(`${a.pod}.${SERVICE}`, a), 'pod ip': ips[a.pod] }));
          const vars = { ip: ips[podName(1)]!, answer: said(answers[1]!.ips) };
          return { tables: [{ title: 'per-pod names (hostname.subdomain)', rows }], answers, vars };
        },
        judge({ answers }) {
          for (const a of answers) answerIs(`${a.pod}.${SERVICE}`, a.ips, [ips[a.pod]!], `${a.pod}'s IP`);
        },
      }),
      step({
        id: 'not-ready',
        title: `a running pod that is not ready (${SLOW}) is left out, the same pod, not restarted`,
        act: (ctx) => rotation(ctx, false),
        judge(seen) {
          expect(seen.endpointReady, `${SLOW}'s endpoint's ready condition`).to.equal(false);
          judgeRotation(seen, others(), 'the other pods');
          expect(seen.dns.ips, `${SLOW}'s IP is left out`).to.not.include(ips[SLOW]);
          // Negative test: the same assertion, fed every pod's IP instead of the ready ones, must fail.
          expect(() => answerIs(SERVICE, seen.dns.ips, all(), 'all')).to.throw(EvidenceError, /exactly all/);
        },
      }),
      step({
        id: 'ready-again',
        title: `${SLOW} ready again: it is back in the answer, the same pod, never restarted`,
        act: (ctx) => rotation(ctx, true),
        judge: (seen) => judgeRotation(seen, all(), 'all pods'),
      }),
    ];
  },
};
