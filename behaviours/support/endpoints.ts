// What the headless-dns scenario and lab both read and do: the Service's EndpointSlices (what
// CoreDNS answers from) and a pod taken out of rotation without being restarted.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { kubectl, type ScenarioContext } from '../../lib/run/context.ts';

/**
 * The readiness probe times out after 5 s, the liveness probe (same command) after 10 s: a mysql
 * client that takes 7 s fails the first and passes the second, so the pod leaves the Service but is
 * not restarted. Refusing root's login instead (ALTER USER) would fail liveness too, and the kubelet
 * would restart the container after 3 × 10 s: the pod must stay alive for this case.
 */
export const SLOW_SECONDS = 7;

export function serviceSlices(ctx: ScenarioContext, service: string): V1EndpointSlice[] {
  return ctx.rec
    .objects<V1EndpointSlice>('endpointslices')
    .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === service);
}

/** The addresses the EndpointSlices mark ready: what CoreDNS serves for a headless Service. */
export function readyEndpointIps(ctx: ScenarioContext, service: string): string[] {
  return serviceSlices(ctx, service)
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready)
    .flatMap((e) => e.addresses)
    .sort();
}

/** One row per endpoint, sorted by pod: what a reader compares with the DNS answer. */
export function endpointRows(ctx: ScenarioContext, service: string) {
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

const inMysql = (ctx: ScenarioContext, pod: string, script: string) =>
  kubectl(['exec', '-n', ctx.ns, pod, '-c', 'mysql', '--', 'sh', '-c', script]);

/** Wraps the pod's mysql client so each call sleeps SLOW_SECONDS first: readiness fails, liveness passes. */
export async function slowMysqlClient(ctx: ScenarioContext, pod: string): Promise<void> {
  await inMysql(
    ctx,
    pod,
    `p=$(command -v mysql) && mv "$p" "$p.lab-real" && printf '#!/bin/sh\\nsleep ${SLOW_SECONDS}\\nexec %s.lab-real "$@"\\n' "$p" > "$p" && chmod +x "$p"`,
  );
}

export async function restoreMysqlClient(ctx: ScenarioContext, pod: string): Promise<void> {
  await inMysql(ctx, pod, 'p=$(command -v mysql) && mv "$p.lab-real" "$p"');
}
