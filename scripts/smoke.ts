// Smoke check of a running lab cluster, with timings: the seed's StatefulSet reaches mysql-0
// Running+Ready with pvc-mysql-0 Bound; a client pod reaches it by its per-pod DNS name; a stopped
// worker turns NotReady within the tuned grace period and Ready again after it starts.
// Everything it creates or breaks is undone before it exits, Ctrl-C included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import {
  CLUSTER_NAME,
  KUBECONFIG_PATH,
  KUBE_CONTEXT,
  LAB_BIN,
  NAMESPACE_LABEL,
  REPO_ROOT,
} from '../lib/cluster/paths.ts';
import { chooseImages, parseVersions } from '../lib/cluster/images.ts';
import { Faults } from '../lib/faults/faults.ts';
import { connect } from '../lib/cluster/kube.ts';
import { PID_ANNOTATION } from '../lib/run/namespaces.ts';

$.verbose = false;
process.env.PATH = `${LAB_BIN}:${process.env.PATH}`;
const NS = 'lab-smoke';
const kubectl = (args: string[]) =>
  $`kubectl --kubeconfig ${KUBECONFIG_PATH} --context ${KUBE_CONTEXT} ${args}`;
const images = chooseImages(
  process.env,
  parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8')),
);
const undo: Array<() => Promise<unknown>> = [];
const t = () => performance.now();
const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);

async function cleanup(): Promise<void> {
  while (undo.length) await undo.pop()!().catch((e) => console.error(`[smoke] undo failed: ${e}`));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => void cleanup().finally(() => process.exit(130)));
}

/** Live flag of the controller-manager static pod, e.g. node-monitor-grace-period. */
async function controllerManagerFlag(flag: string): Promise<string | undefined> {
  const r = await kubectl([
    'get',
    'pod',
    '-n',
    'kube-system',
    `kube-controller-manager-${CLUSTER_NAME}-control-plane`,
    '-o',
    'jsonpath={.spec.containers[0].command}',
  ]);
  const m = new RegExp(`--${flag}=([^"]+)`).exec(r.stdout);
  return m?.[1];
}

function durationSeconds(d: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`cannot read duration ${d}`);
  return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 } as const)[m[2] as 'ms' | 's' | 'm'];
}

async function main(): Promise<void> {
  // Ownership first: not one request that could change a cluster before it is proven to be ours.
  const faults = new Faults(await connect());
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  await kubectl(['create', 'namespace', NS]);
  undo.push(() => kubectl(['delete', 'namespace', NS, '--wait=false']));
  await kubectl(['label', 'namespace', NS, `${NAMESPACE_LABEL}=smoke`]);
  // While this process lives, other runs' sweeps leave the namespace alone.
  await kubectl(['annotate', 'namespace', NS, `${PID_ANNOTATION}=${process.pid}`]);

  let t0 = t();
  const manifest = readFileSync(join(REPO_ROOT, 'manifests/mysql-statefulset.yaml'), 'utf8').replaceAll(
    'statefulset-lab/mysql:mariadb-bookworm',
    images.mysql,
  );
  await $({
    input: manifest,
  })`kubectl --kubeconfig ${KUBECONFIG_PATH} --context ${KUBE_CONTEXT} apply -n ${NS} -f -`;
  await kubectl(['wait', '-n', NS, '--for=create', 'pod/mysql-0', '--timeout=60s']);
  await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/mysql-0', '--timeout=300s']);
  const pvc = (
    await kubectl([
      'get',
      'pvc',
      '-n',
      NS,
      'pvc-mysql-0',
      '-o',
      'jsonpath={.status.phase} {.spec.volumeName}',
    ])
  ).stdout;
  const node = (await kubectl(['get', 'pod', '-n', NS, 'mysql-0', '-o', 'jsonpath={.spec.nodeName}'])).stdout;
  console.log(`[smoke] mysql-0 Running+Ready on ${node} after ${secs(t0)}s; pvc-mysql-0: ${pvc}`);
  if (!pvc.startsWith('Bound pvc-')) throw new Error(`pvc-mysql-0 is not Bound to a dynamic PV: ${pvc}`);

  t0 = t();
  await kubectl([
    'run',
    'client',
    '-n',
    NS,
    `--image=${images.tools}`,
    '--image-pull-policy=IfNotPresent',
    '--restart=Never',
    '--command',
    '--',
    'sleep',
    'infinity',
  ]);
  await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', '--timeout=120s']);
  const answer = await kubectl([
    'exec',
    '-n',
    NS,
    'client',
    '--',
    'mysql',
    '-h',
    'mysql-0.mysql',
    '-uroot',
    '-pqwerty',
    '-N',
    '-e',
    'SELECT 1',
  ]);
  console.log(
    `[smoke] client -> mysql -h mysql-0.mysql 'SELECT 1' answered "${answer.stdout.trim()}" (${secs(t0)}s)`,
  );
  if (answer.stdout.trim() !== '1') throw new Error(`SELECT 1 answered ${answer.stdout}`);

  const grace = (await controllerManagerFlag('node-monitor-grace-period')) ?? '50s';
  const worker = `${CLUSTER_NAME}-worker3`;
  // Through the harness's fault layer: journaled before it acts, so even kill -9 is repaired next start.
  undo.push(() => faults.undoAll());
  const restart = await faults.stopNode(worker);
  const stopped = t();
  // Ready=Unknown comes after the grace period plus one monitor period; the bound is grace + 30 s.
  await kubectl([
    'wait',
    `--for=condition=Ready=Unknown`,
    `node/${worker}`,
    `--timeout=${durationSeconds(grace) + 30}s`,
  ]);
  console.log(
    `[smoke] docker stop ${worker}: Node Ready=Unknown after ${secs(stopped)}s (live node-monitor-grace-period ${grace})`,
  );
  const started = t();
  await restart();
  undo.pop();
  await kubectl(['wait', '--for=condition=Ready', `node/${worker}`, '--timeout=120s']);
  console.log(`[smoke] docker start ${worker}: Node Ready again after ${secs(started)}s`);
}

try {
  await main();
  console.log('smoke: 3 passed, 0 failed');
} catch (err) {
  console.error(`[smoke] FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
