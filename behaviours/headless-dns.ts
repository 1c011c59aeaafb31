// (b) A headless Service (clusterIP: None) makes DNS answer with the ready pods' own IPs: the
// service name resolves to all of them, in an order CoreDNS's `loadbalance` plugin shuffles per
// response; <pod>.<service> resolves to that pod alone; a pod that is running but not ready is
// left out, and comes back when it is ready again.
import { expect } from 'chai';
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { times } from '../lib/cluster/settings.ts';
import { kubectl } from '../lib/cluster/shell.ts';
import { worker } from '../lib/cluster/topology.ts';
import { EvidenceError } from '../lib/observe/evidence.ts';
import { isPodReady } from '../lib/observe/k8s-facts.ts';
import type { RecordedEvent } from '../lib/observe/recorder.ts';
import { note, phase } from '../lib/run/console.ts';
import { type RunContext, waitFor } from '../lib/run/run.ts';
import { deploySeed, pod, podRow, readyPod, seconds, uidPrefix } from './support/pods.ts';
import { answerOf, resolve, startClient, type DnsAnswer } from './support/mysql.ts';

const SERVICE = 'mysql';
const REPLICAS = 3;
const PODS = Array.from({ length: REPLICAS }, (_, i) => `mysql-${i}`);
const WORKERS = [worker(1), worker(2)];
const QUERIES = 30; // of the service name, whose first answers are counted
const SLOW = 'mysql-2'; // the pod taken out of rotation
// Readiness times out after 5 s, liveness (same command) after 10 s: a mysql client that takes 7 s
// takes the pod out of the Service without a restart (refusing root's login would fail liveness too).
const SLOW_SECONDS = 7;

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
function answerIs(name: string, answer: string[], expected: string[], what: string): void {
  if (!sameSet(answer, expected))
    throw new EvidenceError(
      `${name} resolved to [${answer.join(', ')}], expected exactly ${what} [${sorted(expected)}]`,
    );
}
/** A DNS answer and how many queries it took ('gave up': never the expected one). */
type Answer = DnsAnswer & { tries?: number | string };
/** Asks after each TTL until the answer is `expected`; else the last answer, for the judge to quote. */
const dnsRow = (name: string, { ips, ttl, tries = 1 }: Answer) => ({
  name,
  answer: ips.join(', ') || 'no A record',
  ttl,
  tries,
});
const said = (ips: string[]) => ips.join(', ') || 'nothing';
/** The mysql container's restarts; a pod without its status cannot show that it was not restarted. */
function restarts(p: V1Pod | undefined): number {
  const count = p?.status?.containerStatuses?.find((c) => c.name === 'mysql')?.restartCount;
  if (count === undefined)
    throw new EvidenceError(`${p?.metadata?.name}: no mysql container status to count restarts`);
  return count;
}
/** How many times each key occurs. */
const tally = (keys: string[]) =>
  keys.reduce((counts, k) => counts.set(k, (counts.get(k) ?? 0) + 1), new Map<string, number>());

// The live Corefile's loadbalance, cache and kubernetes plugins: each one's line (or `{ … }` block),
// comments removed; says in the story whether cache can hold a shuffled answer back.
async function coreDnsPlugins(ctx: RunContext) {
  const cm = await ctx.kube.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'coredns' });
  const lines = (cm.data?.Corefile ?? '').split('\n').map((l) => l.replace(/#.*/, '').trim());
  const [loadbalance, cache, kubernetes] = ['loadbalance', 'cache', 'kubernetes'].map((plugin) => {
    const at = lines.findIndex((l) => new RegExp(`^${plugin}(\\s|\\{|$)`).test(l));
    if (at < 0) return undefined;
    const end = lines[at]!.includes('{') ? lines.findIndex((l, i) => i > at && l.startsWith('}')) : at;
    return lines.slice(at, end + 1).join(' ');
  });
  note(
    cache && /disable\s+success\s+cluster\.local/.test(cache)
      ? 'cache is on but disabled for cluster.local answers: every query is answered (and shuffled) afresh'
      : `cache is ${cache ? 'on' : 'off'} for cluster.local: a cached answer is still shuffled per response by loadbalance, which runs before cache in CoreDNS's plugin chain`,
  );
  const rows = Object.entries({ loadbalance, cache, kubernetes }).map(([plugin, config]) => ({
    plugin,
    on: !!config,
    config: config ?? 'absent',
  }));
  return { loadbalance, rows };
}

export const headlessDns: Behaviour = {
  name: 'headless-dns',
  title: 'the service name resolves to the ready pods',
  steps() {
    let ips: Record<string, string> = {};
    let slowUid = '';
    let slowRestarts = -1;
    const all = () => Object.values(ips);
    const others = () => all().filter((ip) => ip !== ips[SLOW]);

    /** SLOW out of rotation (slow mysql client) or back: when Ready and its endpoint turned, what DNS says. */
    const rotation = async (ctx: RunContext, slow: boolean) => {
      const since = Date.now();
      const script = slow
        ? `p=$(command -v mysql) && mv "$p" "$p.lab-real" && printf '#!/bin/sh\\nsleep ${SLOW_SECONDS}\\nexec %s.lab-real "$@"\\n' "$p" > "$p" && chmod +x "$p"`
        : 'p=$(command -v mysql) && mv "$p.lab-real" "$p"';
      await kubectl(['exec', '-n', ctx.ns, SLOW, '-c', 'mysql', '--', 'sh', '-c', script]);
      const [ready, readyInAll] = [!slow, slow ? REPLICAS - 1 : REPLICAS];
      await waitFor(
        ctx,
        `${SLOW} Ready=${ready} and its endpoint ${ready ? '' : 'not '}ready in the EndpointSlice of ${SERVICE}, ${readyInAll} ready in all`,
        ctx.bounds.readinessChange,
        () =>
          isPodReady(pod(ctx, SLOW)) === ready &&
          readyIps(ctx).includes(ips[SLOW]!) === ready &&
          readyIps(ctx).length === readyInAll,
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
      const dns = await answerOf(ctx, SERVICE, slow ? others() : all());
      const perPod = await resolve(ctx, `${SLOW}.${SERVICE}`);
      const slowRow = {
        pod: SLOW,
        phase: now.status?.phase,
        ready: isPodReady(now),
        uid: uidPrefix(now.metadata!.uid),
        'same uid': now.metadata!.uid === slowUid,
        restarts: restarts(now),
        [slow ? 'Ready=False' : 'Ready=True']: `+${podAt}s`,
        [`endpoint ready=${!slow}`]: `+${sliceAt}s`,
      };
      const slice = endpointRows(ctx);
      const tables = [
        { title: SLOW, rows: [slowRow] },
        { title: `EndpointSlice of ${SERVICE}`, rows: slice },
        {
          title: `DNS while ${SLOW} is ${slow ? 'not ready' : 'ready again'}`,
          rows: [dnsRow(SERVICE, dns), dnsRow(`${SLOW}.${SERVICE}`, perPod)],
        },
      ];
      const endpointReady = slice.find((e) => e.pod === SLOW)?.ready;
      return { tables, dns, perPod, now, endpoints: readyIps(ctx), endpointReady, podAt, sliceAt };
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
          await waitFor(
            ctx,
            `${PODS.join(', ')} Ready and ${REPLICAS} ready endpoints (OrderedReady starts them one after another)`,
            times(REPLICAS, ctx.bounds.mysqlStart),
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
              { title: `EndpointSlice of ${SERVICE}`, rows: endpointRows(ctx) },
              { title: `dig ${SERVICE} (from the client pod)`, rows: [dnsRow(SERVICE, dns)] },
            ],
            clusterIP,
            endpoints: readyIps(ctx).sort(),
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
          const answers: string[][] = [];
          for (let i = 0; i < QUERIES; i++) answers.push((await resolve(ctx, SERVICE)).ips);
          const wrong = answers.filter((answer) => !sameSet(answer, all()));
          const firsts = tally(answers.flatMap((answer) => answer.slice(0, 1)));
          const orders = tally(answers.map((answer) => answer.join(' ')));
          const first = (pod: string) => firsts.get(ips[pod]!) ?? 0;
          const spread = PODS.map((pod) => `${pod} ×${first(pod)}`).join(', ');
          // Each of the 3 IPs comes first with probability ~1/3 per query, independently: all
          // QUERIES first answers alike has probability 3^(1-QUERIES), ≈ 1.5e-14 for 30.
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
            firsts: [...firsts].map(([ip, count]) => `${ip}×${count}`),
            wrong,
            vars: { n: QUERIES, spread, distinct: firsts.size, orders: orders.size, wrong: wrong.length },
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
            notes: [seen.perPod.ips.length ? 'perPodStays' : 'perPodGone'],
            vars: { ip: ips[SLOW]!, answer: said(seen.dns.ips), notReady: seen.podAt, dropped: seen.sliceAt },
          };
        },
        judge({ dns, endpoints, now, endpointReady }) {
          expect(endpointReady, `${SLOW}'s endpoint ready condition in the EndpointSlice`).to.equal(false);
          answerIs(SERVICE, dns.ips, endpoints, 'the ready endpoints');
          answerIs(SERVICE, dns.ips, others(), 'the other pods');
          expect(dns.ips, `${SLOW}'s IP is left out`).to.not.include(ips[SLOW]);
          // Negative test: the same assertion, fed every pod's IP instead of the ready ones, must fail.
          expect(() => answerIs(SERVICE, dns.ips, all(), 'all')).to.throw(EvidenceError, /exactly all/);
          samePod(now);
        },
      }),
      step({
        id: 'ready-again',
        title: `${SLOW} ready again: it is back in the answer, the same pod, never restarted`,
        async act(ctx) {
          phase(`restore ${SLOW}'s mysql client  ≙ kubectl exec ${SLOW} -c mysql -- mv mysql.lab-real mysql`);
          const seen = await rotation(ctx, false);
          return { ...seen, vars: { answer: said(seen.dns.ips), seconds: seen.sliceAt } };
        },
        judge({ dns, endpoints, now }) {
          answerIs(SERVICE, dns.ips, endpoints, 'the ready endpoints');
          answerIs(SERVICE, dns.ips, all(), 'all pods');
          samePod(now);
        },
      }),
    ];
  },
};
