// Talking to the StatefulSet the way an application would: from a client pod, by DNS name.
import type { V1Pod } from '@kubernetes/client-node';
import { kubectl } from '../../lib/cluster/shell.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { type RunContext, waitFor } from '../../lib/run/run.ts';
import { ROOT_PASSWORD, workloadImages } from './seed.ts';

/** Starts the client pod (tools image: mysql client, dig) and waits until it runs. */
export async function startClient(ctx: RunContext, nodeName?: string): Promise<void> {
  const image = workloadImages().tools;
  const container = {
    name: 'client',
    image,
    imagePullPolicy: 'IfNotPresent',
    command: ['sleep', 'infinity'],
  };
  await ctx.kube.core.createNamespacedPod({
    namespace: ctx.ns,
    body: {
      metadata: { name: 'client', namespace: ctx.ns, labels: { app: 'lab-client' } },
      spec: { nodeName, terminationGracePeriodSeconds: 1, containers: [container] },
    },
  });
  await waitFor(ctx, 'client pod Ready', ctx.bounds.podStart, () =>
    isPodReady(ctx.rec.get<V1Pod>('pods', 'client', ctx.ns)),
  );
}

/** Runs a command in the client pod (≙ kubectl exec client -- …). */
const onClient = (ctx: RunContext, command: string[]) =>
  kubectl(['exec', '-n', ctx.ns, 'client', '--', ...command]);

export async function sql(ctx: RunContext, host: string, query: string): Promise<string> {
  const login = ['-h', host, '-uroot', `-p${ROOT_PASSWORD}`, '--connect-timeout=5'];
  return (await onClient(ctx, ['mysql', ...login, '-N', '-B', '-e', query])).stdout.trim();
}

export interface DnsAnswer {
  ips: string[];
  ttl: number;
}

/** One DNS query from the client pod, answers in the order the server gave them. */
export async function resolve(ctx: RunContext, name: string): Promise<DnsAnswer> {
  const r = await onClient(ctx, ['dig', '+noall', '+answer', '+search', name, 'A']);
  const rows = r.stdout
    .split('\n')
    .filter((l) => /\sIN\s+A\s/.test(l))
    .map((l) => l.trim().split(/\s+/));
  return { ips: rows.map((f) => f[4]!), ttl: Math.max(0, ...rows.map((f) => Number(f[1]))) };
}

/**
 * DNS has no watch: a changed record reaches clients when the cached answer's TTL runs out. This
 * asks again after each TTL until the answer is `expected`, for at most `maxTtls` TTLs.
 */
export async function resolveUntil(ctx: RunContext, name: string, expected: string[], maxTtls = 6) {
  const want = [...expected].sort().join(',');
  let last: DnsAnswer = { ips: [], ttl: 0 };
  for (let tries = 1; tries <= maxTtls; tries++) {
    last = await resolve(ctx, name);
    if ([...last.ips].sort().join(',') === want) return { ...last, tries };
    await new Promise((r) => setTimeout(r, Math.max(1, last.ttl) * 1000));
  }
  throw new Error(
    `${name} resolved to ${last.ips.join(',') || 'nothing'}, not ${want}, after ${maxTtls} TTLs of ${last.ttl}s`,
  );
}

/** What a judge needs of DNS: the answer `resolveUntil` waited for, or, when it gave up, the last
 * answer marked so. The judge, not the action, then says the answer was wrong. */
export const answerOf = (
  ctx: RunContext,
  name: string,
  expected: string[],
): Promise<DnsAnswer & { tries: number | 'gave up' }> =>
  resolveUntil(ctx, name, expected).catch(async () => ({
    ...(await resolve(ctx, name)),
    tries: 'gave up' as const,
  }));
