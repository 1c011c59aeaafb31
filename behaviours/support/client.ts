// Talking to the StatefulSet the way an application would: from a client pod, by DNS name. The
// pod's `client` container asks DNS (tools image); its `marker` container runs the profile's marker
// commands with the workload's own image and environment (its client program, its password).
import type { V1Container } from '@kubernetes/client-node';
import { kubectl } from '../../lib/cluster/shell.ts';
import { type RunContext, waitFor } from '../../lib/run/run.ts';
import { readyPod } from './pods.ts';
import { clusterImages, hostOf, PROFILE, renderWorkload, serverContainer } from './workload.ts';

/** Starts the client pod and waits until it runs. */
export async function startClient(ctx: RunContext, nodeName?: string): Promise<void> {
  const idle = { imagePullPolicy: 'IfNotPresent', command: ['sleep', 'infinity'] };
  const containers: V1Container[] = [{ name: 'client', image: clusterImages().tools, ...idle }];
  if (PROFILE.marker.in === 'client') {
    const { image, env, envFrom } = serverContainer(renderWorkload(ctx.ns).statefulSet);
    containers.push({ name: 'marker', image, env, envFrom, ...idle });
  }
  const metadata = { name: 'client', labels: { app: 'lab-client' } };
  const spec = { nodeName, terminationGracePeriodSeconds: 1, containers };
  await ctx.kube.core.createNamespacedPod({ namespace: ctx.ns, body: { metadata, spec } });
  await waitFor(ctx, 'client pod Ready', ctx.bounds.podStart, () => readyPod(ctx, 'client'));
}

/** The profile's marker script, with HOST and MARKER, in the client's marker container or in `pod`. */
async function marker(ctx: RunContext, pod: string, script: string, text = ''): Promise<string> {
  const command = ['env', `HOST=${hostOf(pod)}`, `MARKER=${text}`, 'sh', '-c', script];
  const where = PROFILE.marker.in === 'client' ? ['client', '-c', 'marker'] : [pod, '-c', PROFILE.container];
  return (await kubectl(['exec', '-n', ctx.ns, ...where, '--', ...command])).stdout.trim();
}
/** Writes `text` as the marker through `pod`'s DNS name (the profile's marker.write). */
export const writeMarker = (ctx: RunContext, pod: string, text: string) =>
  marker(ctx, pod, PROFILE.marker.write, text);
/** Reads the marker back through `pod` (the profile's marker.read). */
export const readMarker = (ctx: RunContext, pod: string) => marker(ctx, pod, PROFILE.marker.read);

export type DnsAnswer = { ips: string[]; ttl: number };

/** One DNS query from the client pod, answers in the order the server gave them. */
export async function resolve(ctx: RunContext, name: string): Promise<DnsAnswer> {
  const dig = ['dig', '+noall', '+answer', '+search', name, 'A'];
  const { stdout } = await kubectl(['exec', '-n', ctx.ns, 'client', '-c', 'client', '--', ...dig]);
  const answers = stdout.split('\n').filter((l) => /\sIN\s+A\s/.test(l));
  const rows = answers.map((l) => l.trim().split(/\s+/));
  return { ips: rows.map((f) => f[4]!), ttl: Math.max(0, ...rows.map((f) => Number(f[1]))) };
}
/** DNS has no watch: a changed record reaches clients when the cached answer's TTL runs out. This asks
 * again after each TTL until the answer is `expected`, for at most `maxTtls` TTLs; then it returns a
 * fresh answer marked 'gave up', so the judge, not the action, says it was wrong. */
export async function answerOf(ctx: RunContext, name: string, expected: string[], maxTtls = 6) {
  const want = [...expected].sort().join(',');
  for (let tries = 1; tries <= maxTtls; tries++) {
    const answer = await resolve(ctx, name);
    if ([...answer.ips].sort().join(',') === want) return { ...answer, tries };
    await new Promise((r) => setTimeout(r, Math.max(1, answer.ttl) * 1000));
  }
  return { ...(await resolve(ctx, name)), tries: 'gave up' as const };
}
