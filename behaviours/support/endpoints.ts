// What the headless-dns behaviour reads and does: the Service's EndpointSlices (what CoreDNS answers
// from), DNS answers compared with them, the live Corefile (whether CoreDNS shuffles), and the
// switch that takes a pod out of rotation without restarting it.
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { kubectl } from '../../lib/cluster/shell.ts';
import { EvidenceError } from '../../lib/observe/evidence.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { until } from '../../lib/observe/waits.ts';
import { note } from '../../lib/run/console.ts';
import { waiting, type RunContext } from '../../lib/run/run.ts';
import { resolve, resolveUntil, type DnsAnswer } from './mysql.ts';

/**
 * The readiness probe times out after 5 s, the liveness probe (same command) after 10 s: a mysql
 * client that takes 7 s fails the first and passes the second, so the pod leaves the Service but is
 * not restarted. Refusing root's login instead (ALTER USER) would fail liveness too, and the kubelet
 * would restart the container after 3 × 10 s: the pod must stay alive for this case.
 */
export const SLOW_SECONDS = 7;

export function serviceSlices(ctx: RunContext, service: string): V1EndpointSlice[] {
  return ctx.rec
    .objects<V1EndpointSlice>('endpointslices')
    .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === service);
}

/** The addresses the EndpointSlices mark ready: what CoreDNS serves for a headless Service. */
export function readyEndpointIps(ctx: RunContext, service: string): string[] {
  return serviceSlices(ctx, service)
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready)
    .flatMap((e) => e.addresses)
    .sort();
}

/** One row per endpoint, sorted by pod: what a reader compares with the DNS answer. */
export function endpointRows(ctx: RunContext, service: string) {
  return serviceSlices(ctx, service)
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
}

/** The pod's endpoint in the Service's EndpointSlices. */
export const endpointOf = (ctx: RunContext, service: string, pod: string) =>
  serviceSlices(ctx, service)
    .flatMap((s) => s.endpoints ?? [])
    .find((e) => e.targetRef?.name === pod);

/** A DNS answer as one table row. */
export const dnsRow = (name: string, dns: DnsAnswer & { tries?: number | string }) => ({
  name,
  answer: dns.ips.join(', ') || 'no A record',
  ttl: dns.ttl,
  tries: dns.tries ?? 1,
});

const sorted = (xs: string[]) => [...xs].sort().join(', ');
/** Exactly these IPs: no more, no fewer, no duplicates, in any order. */
const sameSet = (a: string[], b: string[]) => a.length === b.length && sorted(a) === sorted(b);

/** The DNS answer is exactly `expected`; else an EvidenceError quoting both. */
export function answerIs(name: string, answer: string[], expected: string[], what: string): void {
  if (!sameSet(answer, expected))
    throw new EvidenceError(
      `${name} resolved to [${answer.join(', ')}], expected exactly ${what} [${sorted(expected)}]`,
    );
}

/** Asks after each TTL until the answer is `expected`; else the last answer, for the judge to quote. */
export const answerOf = (ctx: RunContext, name: string, expected: string[]) =>
  resolveUntil(ctx, name, expected).catch(async () => ({
    ...(await resolve(ctx, name)),
    tries: 'gave up' as string | number,
  }));

/**
 * `n` answers for `name`, whose ready pods are `ipsByPod`: how often each pod came first, each full
 * order, and the answers that were not exactly those IPs.
 */
export async function sampleAnswers(
  ctx: RunContext,
  name: string,
  n: number,
  ipsByPod: Record<string, string>,
) {
  const firsts = new Map<string, number>();
  const orders = new Map<string, number>();
  const wrong: string[][] = [];
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (let i = 0; i < n; i++) {
    const { ips } = await resolve(ctx, name);
    if (!sameSet(ips, Object.values(ipsByPod))) wrong.push(ips);
    if (ips[0]) count(firsts, ips[0]);
    count(orders, ips.join(' '));
  }
  const pods = Object.entries(ipsByPod).map(([pod, ip]) => ({ pod, ip, first: firsts.get(ip) ?? 0 }));
  return {
    firstRows: pods.map(({ pod, ip, first }) => ({ pod, ip, 'first answer': first, '': '█'.repeat(first) })),
    orderRows: [...orders].map(([order, count]) => ({ order, count })),
    firsts: [...firsts].map(([ip, c]) => `${ip}×${c}`),
    wrong,
    /** For the lab's sentences. */
    counts: {
      spread: pods.map(({ pod, first }) => `${pod} ×${first}`).join(', '),
      distinct: firsts.size,
      orders: orders.size,
      wrong: wrong.length,
    },
  };
}

/**
 * The live Corefile's loadbalance, cache and kubernetes plugins: each one's line (or `{ … }` block),
 * comments removed; says in the story whether cache can hold a shuffled answer back.
 */
export async function coreDnsPlugins(ctx: RunContext) {
  const cm = await ctx.kube.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'coredns' });
  const lines = (cm.data?.Corefile ?? '').split('\n').map((l) => l.replace(/#.*/, '').trim());
  const block = (plugin: string) => {
    const start = lines.findIndex((l) => new RegExp(`^${plugin}(\\s|\\{|$)`).test(l));
    if (start < 0) return undefined;
    const end = lines[start]!.includes('{')
      ? lines.findIndex((l, i) => i > start && l.startsWith('}'))
      : start;
    return lines.slice(start, end + 1).join(' ');
  };
  const [loadbalance, cache, kubernetes] = ['loadbalance', 'cache', 'kubernetes'].map(block);
  note(
    cache && /disable\s+success\s+cluster\.local/.test(cache)
      ? 'cache is on but disabled for cluster.local answers: every query is answered (and shuffled) afresh'
      : `cache is ${cache ? 'on' : 'off'} for cluster.local: a cached answer is still shuffled per response by loadbalance, which runs before cache in CoreDNS's plugin chain`,
  );
  const row = (plugin: string, config?: string) => ({ plugin, on: !!config, config: config ?? 'absent' });
  return {
    loadbalance,
    rows: [row('loadbalance', loadbalance), row('cache', cache), row('kubernetes', kubernetes)],
  };
}

const inMysql = (ctx: RunContext, pod: string, script: string) =>
  kubectl(['exec', '-n', ctx.ns, pod, '-c', 'mysql', '--', 'sh', '-c', script]);

/**
 * The switch: slows `pod`'s mysql client by SLOW_SECONDS (readiness fails, liveness passes) or puts
 * the real one back, waits until the pod's Ready and its endpoint follow with `readyInAll` ready
 * endpoints in all, and says when each turned (wall ms, from the recorded history).
 */
export async function slowMysqlClient(
  ctx: RunContext,
  service: string,
  pod: string,
  slow: boolean,
  readyInAll: number,
) {
  const since = Date.now();
  await inMysql(
    ctx,
    pod,
    slow
      ? `p=$(command -v mysql) && mv "$p" "$p.lab-real" && printf '#!/bin/sh\\nsleep ${SLOW_SECONDS}\\nexec %s.lab-real "$@"\\n' "$p" > "$p" && chmod +x "$p"`
      : 'p=$(command -v mysql) && mv "$p.lab-real" "$p"',
  );
  const ready = !slow;
  const now = () => ctx.rec.get<V1Pod>('pods', pod, ctx.ns);
  const ip = now()?.status?.podIP ?? '';
  const b = ctx.bounds.readinessChange;
  await waiting(
    ctx,
    until(
      ctx.rec,
      () =>
        isPodReady(now()) === ready &&
        readyEndpointIps(ctx, service).includes(ip) === ready &&
        readyEndpointIps(ctx, service).length === readyInAll,
      {
        timeout: b.seconds,
        why: `${pod} Ready=${ready} and its endpoint ${ready ? '' : 'not '}ready in the EndpointSlice of ${service}, ${readyInAll} ready in all (bound ${b.seconds}s: ${b.why})`,
      },
    ),
  );
  const readyAt = ctx.rec
    .history('pods', pod)
    .find((e) => e.at >= since && isPodReady(e.object as V1Pod) === ready)?.at;
  const endpointAt = ctx.rec
    .history('endpointslices')
    .find(
      (e) =>
        e.at >= since &&
        (e.object as V1EndpointSlice).endpoints?.some(
          (p) => p.targetRef?.name === pod && p.conditions?.ready === ready,
        ),
    )?.at;
  return { since, readyAt, endpointAt };
}
