// (b) A headless Service (clusterIP: None) makes DNS answer with the ready pods' own IPs: the
// service name resolves to all of them, in an order CoreDNS's `loadbalance` plugin shuffles per
// response; <pod>.<service> resolves to that pod alone; a pod that is running but not ready is
// left out, and comes back when it is ready again.
import { expect } from 'chai';
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { evidence, note, phase } from '../lib/run/console.ts';
import { EvidenceError } from '../lib/observe/evidence.ts';
import { isPodReady } from '../lib/observe/k8s-facts.ts';
import { until } from '../lib/observe/waits.ts';
import {
  endpointRows as rowsOf,
  readyEndpointIps as readyIps,
  restoreMysqlClient,
  slowMysqlClient,
  SLOW_SECONDS,
} from '../behaviours/support/endpoints.ts';
import { createAll, useScenario, waiting, type ScenarioContext } from '../lib/run/context.ts';
import { MYSQL_START_BOUND, resolve, resolveUntil, startClient } from '../behaviours/support/mysql.ts';
import { renderSeed } from '../behaviours/support/seed.ts';

const SERVICE = 'mysql';
const REPLICAS = 3;
const PODS = Array.from({ length: REPLICAS }, (_, i) => `mysql-${i}`);
const WORKERS = ['statefulset-lab-worker', 'statefulset-lab-worker2'];
/** Queries of the service name whose first answer is counted. */
const N = 30;
/** The pod taken out of rotation. */
const SLOW = 'mysql-2';

function pod(ctx: ScenarioContext, name: string): V1Pod | undefined {
  return ctx.rec.get<V1Pod>('pods', name, ctx.ns);
}

const readyEndpointIps = (ctx: ScenarioContext) => readyIps(ctx, SERVICE);
const endpointRows = (ctx: ScenarioContext) => rowsOf(ctx, SERVICE);

const sameSet = (a: string[], b: string[]) => [...a].sort().join(',') === [...b].sort().join(',');

/** The DNS answer is exactly the given set of IPs (no more, no fewer, no duplicates). */
function assertAnswerIs(name: string, answer: string[], expected: string[], what: string): void {
  if (answer.length !== expected.length || !sameSet(answer, expected))
    throw new EvidenceError(
      `${name} resolved to [${answer.join(', ')}], expected exactly ${what} [${[...expected].sort().join(', ')}]`,
    );
}

/** The plugins of the live Corefile, comments removed, with their argument lines. */
function corefilePlugin(corefile: string, plugin: string): string | undefined {
  const lines = corefile.split('\n').map((l) => l.replace(/#.*/, ''));
  const start = lines.findIndex((l) => new RegExp(`^\\s*${plugin}(\\s|\\{|$)`).test(l));
  if (start < 0) return undefined;
  if (!lines[start]!.includes('{')) return lines[start]!.trim();
  const end = lines.findIndex((l, i) => i > start && /^\s*\}/.test(l));
  return lines
    .slice(start, end + 1)
    .map((l) => l.trim())
    .join(' ');
}

describe('headless-dns: the service name resolves to the ready pods', function () {
  const scenario = useScenario('headless-dns');
  let ips: Record<string, string> = {};

  before(async function () {
    this.timeout((REPLICAS * MYSQL_START_BOUND + 180) * 1000);
    const ctx = scenario();
    phase(`deploy the seed StatefulSet (${REPLICAS} replicas on ${WORKERS.join(', ')}) and a client pod`);
    const seed = renderSeed(ctx.ns, { replicas: REPLICAS, nodeNames: WORKERS });
    const svc = seed.service as { spec?: { clusterIP?: string } };
    expect(svc.spec?.clusterIP, 'the seed Service is headless').to.equal('None');
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
    await startClient(ctx, 'statefulset-lab-worker');
    const bound = REPLICAS * MYSQL_START_BOUND;
    await waiting(
      ctx,
      until(
        ctx.rec,
        () => PODS.every((n) => isPodReady(pod(ctx, n))) && readyEndpointIps(ctx).length === REPLICAS,
        {
          timeout: bound,
          why: `${PODS.join(', ')} Ready and ${REPLICAS} ready endpoints in the EndpointSlice (bound ${REPLICAS} × MYSQL_START_BOUND ${MYSQL_START_BOUND}s = ${bound}s: OrderedReady starts them one after another)`,
        },
      ),
    );
    ips = Object.fromEntries(PODS.map((n) => [n, pod(ctx, n)!.status!.podIP!]));
  });

  it(`"${SERVICE}" resolves to exactly the ready pods' IPs, as the EndpointSlice lists them`, async function () {
    this.timeout(300_000);
    const ctx = scenario();
    evidence('EndpointSlice endpoints', endpointRows(ctx));
    const podIps = Object.values(ips);
    expect(readyEndpointIps(ctx), 'EndpointSlice ready addresses = pod IPs').to.deep.equal(
      [...podIps].sort(),
    );
    const dns = await resolveUntil(ctx, SERVICE, podIps);
    evidence(`dig ${SERVICE} from the client pod`, [
      { name: SERVICE, answer: dns.ips.join(', '), ttl: dns.ttl, tries: dns.tries },
    ]);
    assertAnswerIs(SERVICE, dns.ips, readyEndpointIps(ctx), 'the ready endpoints');
  });

  it(`the order of the answers varies over ${N} queries (CoreDNS loadbalance)`, async function () {
    this.timeout(300_000);
    const ctx = scenario();
    const cm = await ctx.kube.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'coredns' });
    const corefile = cm.data?.Corefile ?? '';
    const loadbalance = corefilePlugin(corefile, 'loadbalance');
    const cache = corefilePlugin(corefile, 'cache');
    const kubernetes = corefilePlugin(corefile, 'kubernetes');
    evidence('live CoreDNS Corefile (kube-system/coredns)', [
      { plugin: 'loadbalance', on: !!loadbalance, config: loadbalance ?? '-' },
      { plugin: 'cache', on: !!cache, config: cache ?? '-' },
      { plugin: 'kubernetes', on: !!kubernetes, config: kubernetes ?? '-' },
    ]);
    note(
      cache && /disable\s+success\s+cluster\.local/.test(cache)
        ? 'cache is on but disabled for cluster.local answers: every query is answered (and shuffled) afresh'
        : `cache is ${cache ? 'on' : 'off'} for cluster.local: a cached answer is still shuffled per response by loadbalance, which runs before cache in CoreDNS's plugin chain`,
    );
    // Without loadbalance CoreDNS answers in a fixed order and nothing below could hold.
    expect(loadbalance, 'the live Corefile has the loadbalance plugin').to.match(/^loadbalance/);

    const podIps = Object.values(ips);
    const firsts = new Map<string, number>();
    const orders = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const answer = await resolve(ctx, SERVICE);
      assertAnswerIs(SERVICE, answer.ips, podIps, 'the ready pods');
      firsts.set(answer.ips[0]!, (firsts.get(answer.ips[0]!) ?? 0) + 1);
      orders.set(answer.ips.join(' '), (orders.get(answer.ips.join(' ')) ?? 0) + 1);
    }
    const byIp = Object.fromEntries(Object.entries(ips).map(([n, ip]) => [ip, n]));
    evidence(
      `first answer over ${N} queries`,
      podIps.map((ip) => ({ firstIp: ip, pod: byIp[ip], count: firsts.get(ip) ?? 0 })),
    );
    evidence(
      `full orders seen (${orders.size} distinct)`,
      [...orders].map(([order, count]) => ({ order, count })),
    );
    // loadbalance permutes the A records by the query's random ID: each of the 3 IPs comes first
    // with probability ~1/3, independently per query. All N answers starting with the same IP has
    // probability 3 × (1/3)^N = 3^(1-N) ≈ 1.5e-14 for N = 30: a false failure will not be seen.
    note(
      `P(all ${N} first answers equal | shuffle on) = 3^(1-${N}) ≈ ${(3 ** (1 - N)).toExponential(1)}: ${firsts.size} distinct first answers seen`,
    );
    if (firsts.size < 2)
      throw new EvidenceError(
        `the first answer never varied over ${N} queries: ${[...firsts].map(([ip, c]) => `${ip}×${c}`).join(', ')}`,
      );
  });

  it('mysql-1.mysql resolves to mysql-1 alone', async function () {
    this.timeout(300_000);
    const ctx = scenario();
    const rows = [];
    for (const name of PODS) {
      const dns = await resolveUntil(ctx, `${name}.${SERVICE}`, [ips[name]!]);
      rows.push({ name: `${name}.${SERVICE}`, answer: dns.ips.join(', '), podIp: ips[name], ttl: dns.ttl });
      assertAnswerIs(`${name}.${SERVICE}`, dns.ips, [ips[name]!], `${name}'s IP`);
    }
    evidence('per-pod names (hostname + subdomain)', rows);
  });

  it(`a running pod that is not ready (${SLOW}) is left out, and comes back when ready`, async function () {
    this.timeout(600_000);
    const ctx = scenario();
    const before = pod(ctx, SLOW)!;
    const uid = before.metadata!.uid!;
    const restarts = () => pod(ctx, SLOW)?.status?.containerStatuses?.[0]?.restartCount ?? -1;
    const restartsBefore = restarts();
    const others = PODS.filter((n) => n !== SLOW).map((n) => ips[n]!);

    phase(
      `make ${SLOW}'s mysql client take ${SLOW_SECONDS}s: readiness (timeout 5s) fails, liveness (timeout 10s) passes`,
    );
    const slowedAt = Date.now();
    await slowMysqlClient(ctx, SLOW);
    try {
      // 3 failed probes × (period 2 s + timeout 5 s), then the EndpointSlice follows within seconds.
      await waiting(
        ctx,
        until(
          ctx.rec,
          () =>
            !isPodReady(pod(ctx, SLOW)) &&
            !readyEndpointIps(ctx).includes(ips[SLOW]!) &&
            readyEndpointIps(ctx).length === REPLICAS - 1,
          {
            timeout: 60,
            why: `${SLOW} Ready=False and its endpoint not ready in the EndpointSlice (bound 60 s: failureThreshold 3 × (period 2 s + timeout 5 s) = 21 s, plus the endpoint controller)`,
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
      note(
        `${SLOW} Ready=False +${(((notReadyAt ?? NaN) - slowedAt) / 1000).toFixed(1)}s, endpoint not ready in the EndpointSlice +${(((droppedAt ?? NaN) - slowedAt) / 1000).toFixed(1)}s; phase ${now.status?.phase}, uid ${now.metadata!.uid} (same: ${now.metadata!.uid === uid}), restarts ${restarts()}`,
      );
      evidence('EndpointSlice endpoints while not ready', endpointRows(ctx));
      const dns = await resolveUntil(ctx, SERVICE, others);
      const perPod = await resolve(ctx, `${SLOW}.${SERVICE}`);
      evidence('DNS while not ready', [
        { name: SERVICE, answer: dns.ips.join(', '), tries: dns.tries },
        { name: `${SLOW}.${SERVICE}`, answer: perPod.ips.join(', ') || 'no A record', tries: 1 },
      ]);
      assertAnswerIs(SERVICE, dns.ips, readyEndpointIps(ctx), 'the ready endpoints');
      expect(dns.ips, `${SLOW}'s IP is left out`).to.not.include(ips[SLOW]);
      // Negative test: the same assertion, fed the pods' IPs instead of the ready ones, must fail now.
      expect(() => assertAnswerIs(SERVICE, dns.ips, Object.values(ips), 'all pods')).to.throw(
        EvidenceError,
        /expected exactly all pods/,
      );
      expect(now.status?.phase, `${SLOW} still runs`).to.equal('Running');
      expect(now.metadata!.uid, `${SLOW} is the same pod`).to.equal(uid);
    } finally {
      phase(`restore ${SLOW}'s mysql client`);
      await restoreMysqlClient(ctx, SLOW);
    }
    await waiting(
      ctx,
      until(ctx.rec, () => isPodReady(pod(ctx, SLOW)) && readyEndpointIps(ctx).length === REPLICAS, {
        timeout: 60,
        why: `${SLOW} Ready again and back in the EndpointSlice (bound 60 s: the next probe passes within its 2 s period)`,
      }),
    );
    const dns = await resolveUntil(ctx, SERVICE, Object.values(ips));
    evidence('DNS after recovery', [{ name: SERVICE, answer: dns.ips.join(', '), tries: dns.tries }]);
    assertAnswerIs(SERVICE, dns.ips, Object.values(ips), 'all pods');
    expect(pod(ctx, SLOW)!.metadata!.uid, `${SLOW} was never replaced`).to.equal(uid);
    expect(restarts(), `${SLOW}'s container was never restarted (liveness kept passing)`).to.equal(
      restartsBefore,
    );
  });
});
