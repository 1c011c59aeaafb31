// The lab's one kind cluster: brought up from local builds (no container registry), a cluster
// bundle (bundle.ts) or stock images, reused when healthy, restarted after a Docker restart,
// recreated when broken; deleted; shown. It never acts on a cluster this cache did not create.
// scripts/cluster.ts is its command line.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import {
  CLUSTER_ID_PATH,
  CLUSTER_NAME,
  KIND_CLUSTER_LABEL,
  KUBECONFIG_PATH,
  KUBE_CONTEXT,
  LAB_BIN,
  LAB_CACHE,
  LAB_NETWORK,
  OWNER_CONFIGMAP,
  REPO_ROOT,
} from './paths.ts';
import { chooseImages, parseVersions, type ClusterImages } from './images.ts';
import { stage, streamed, timings } from './stages.ts';
import { waitForFreshLeases } from './fresh-leases.ts';
import type { V1Node } from '@kubernetes/client-node';
import { podNetworkProblem } from './pod-network.ts';
import { currentIp, pinNodeIps, recordNodeIps, recordedNodeIps } from './node-ips.ts';
import { ensureLabNetwork, networksOf, removeLabNetwork } from './network.ts';
import { kubectl } from './shell.ts';
import { acquireClusterLock, releaseClusterLock } from './lock.ts';
import { ourClusterId, ownerDir, proveOwnership } from './ownership.ts';
import {
  bundleLoadedHere,
  checkoutFacts,
  loadBundle,
  makeBundle,
  nodeImageFromLoadedBundle,
  resolveBundle,
  verifyForCheckout,
  type MakeOptions,
} from './bundle.ts';

$.verbose = false;
process.env.PATH = `${LAB_BIN}:${process.env.PATH}`;
// kind puts the nodes on this network instead of its shared `kind` one (see cluster/network.ts).
process.env.KIND_EXPERIMENTAL_DOCKER_NETWORK = LAB_NETWORK;
const versions = parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8'));
// Bounds for a cluster coming up on a 2-core machine. They only stop a hopeless wait; a healthy
// cluster is usually Ready long before (see the printed timings).
const NODES_READY_TIMEOUT = process.env.LAB_NODES_READY_TIMEOUT ?? '240s';
const SYSTEM_PODS_TIMEOUT = process.env.LAB_SYSTEM_PODS_TIMEOUT ?? '240s';
/** How long a flanneld that just started may take to write its subnet file. */
const FLANNEL_SETTLE_SECONDS = 15;

interface NodeContainer {
  name: string;
  state: string;
  image: string;
}

async function nodeContainers(): Promise<NodeContainer[]> {
  const out =
    await $`docker ps -a --filter label=${KIND_CLUSTER_LABEL}=${CLUSTER_NAME} --format ${'{{.Names}}\t{{.State}}\t{{.Image}}'}`;
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', state = '', image = ''] = line.split('\t');
      return { name, state, image };
    })
    .sort(
      (a, b) =>
        Number(b.name.endsWith('control-plane')) - Number(a.name.endsWith('control-plane')) ||
        a.name.localeCompare(b.name),
    );
}

async function ensureDocker(): Promise<void> {
  await streamed('bash', [join(REPO_ROOT, 'scripts/docker-engine.sh')]);
}

async function buildImages(images: ClusterImages): Promise<string> {
  const build = (script: string, args: string[] = []) =>
    streamed('bash', [join(REPO_ROOT, 'scripts/build', script), ...args]);
  if (images.mode === 'stock') {
    // The stock node image brings Kubernetes; our storage manifest and the scenarios' images are ours.
    await Promise.all([
      build('go-binaries.sh', ['kind', 'local_path']),
      build('rootfs.sh', ['slim', 'mysql', 'tools']),
    ]);
    await build('images.sh', ['--lab-only']);
    return images.node!;
  }
  // Compiling is CPU-bound and debootstrap mostly waits on the network: run them side by side.
  await Promise.all([build('go-binaries.sh'), build('rootfs.sh')]);
  await build('images.sh');
  return readFileSync(join(LAB_CACHE, 'node-image'), 'utf8').trim();
}

/** With a stock node image: load our images and swap kind's storage for ours (adds `shared`). */
async function addLabStorageToStockCluster(): Promise<void> {
  const labImages = readFileSync(join(LAB_CACHE, 'lab-images'), 'utf8').split('\n').filter(Boolean);
  await streamed('kind', ['load', 'docker-image', '--name', CLUSTER_NAME, ...labImages]);
  await kubectl(['delete', 'storageclass', 'standard', '--ignore-not-found']);
  await kubectl(['apply', '-f', join(REPO_ROOT, 'manifests/storage.yaml')]);
}

/** Puts the built kind and kubectl first on PATH for this process and for the harness. */
function linkTools(): void {
  mkdirSync(LAB_BIN, { recursive: true });
  const out = join(LAB_CACHE, 'out');
  const links: Record<string, string> = {
    kind: join(out, `kind-${versions.KIND_VERSION}`, 'kind'),
    kubectl: join(out, `kubernetes-${versions.K8S_VERSION}`, 'kubectl'),
  };
  for (const [name, target] of Object.entries(links)) {
    if (!existsSync(target)) continue;
    rmSync(join(LAB_BIN, name), { force: true });
    symlinkSync(target, join(LAB_BIN, name));
  }
}

async function createCluster(nodeImage: string): Promise<void> {
  const sharedDir = join(LAB_CACHE, 'shared-volumes');
  mkdirSync(sharedDir, { recursive: true });
  // The id is written before kind runs, and every node carries it from birth as a mount: a crash
  // half-way still leaves a cluster this cache can prove it owns (ownership.ts).
  const id = randomUUID();
  mkdirSync(ownerDir(id), { recursive: true });
  const config = readFileSync(join(REPO_ROOT, 'manifests/kind-cluster.yaml'), 'utf8')
    .replaceAll('${LAB_SHARED_DIR}', sharedDir)
    .replaceAll('${LAB_OWNER_DIR}', ownerDir(id));
  const configPath = join(LAB_CACHE, 'kind-cluster.generated.yaml');
  writeFileSync(configPath, config);
  console.log(`[cluster] docker network: ${await ensureLabNetwork()}`);
  writeFileSync(CLUSTER_ID_PATH, id);
  await streamed('kind', [
    'create',
    'cluster',
    '--name',
    CLUSTER_NAME,
    '--image',
    nodeImage,
    '--config',
    configPath,
    '--kubeconfig',
    KUBECONFIG_PATH,
    '--retain',
  ]);
  await kubectl([
    'create',
    'configmap',
    '-n',
    OWNER_CONFIGMAP.namespace,
    OWNER_CONFIGMAP.name,
    `--from-literal=clusterId=${id}`,
    `--from-literal=nodeImage=${nodeImage}`,
  ]);
  await recordNodeIps((await nodeContainers()).map((c) => c.name));
}

/** A node attached to another network than the lab's (a cluster made before the lab had its own). */
async function firstOffLabNetwork(
  containers: NodeContainer[],
): Promise<{ node: string; network: string } | undefined> {
  for (const [node, networks] of await networksOf(containers.map((c) => c.name))) {
    const other = networks.find((n) => n !== LAB_NETWORK);
    if (other) return { node, network: other };
  }
  return undefined;
}

async function deleteCluster(): Promise<void> {
  await streamed('kind', ['delete', 'cluster', '--name', CLUSTER_NAME, '--kubeconfig', KUBECONFIG_PATH]);
  const id = ourClusterId();
  if (id) rmSync(ownerDir(id), { recursive: true, force: true });
  rmSync(CLUSTER_ID_PATH, { force: true });
}

/**
 * Until the API server reports /readyz (RBAC bootstrapped included): right after a restart it
 * refuses connections, then answers Forbidden. Nothing can be watched before it serves, so this one
 * wait retries once a second.
 */
async function waitApiReady(
  timeoutSeconds = Number(process.env.LAB_API_READY_TIMEOUT ?? 120),
): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = '';
  while (Date.now() < deadline) {
    const r = await kubectl(['get', '--raw', '/readyz', '--request-timeout=5s']).nothrow().quiet();
    if (r.exitCode === 0) return;
    last = (r.stderr || r.stdout).trim();
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(
    `the API server did not become ready within ${timeoutSeconds}s (LAB_API_READY_TIMEOUT); last answer: ${last}`,
  );
}

async function waitHealthy(): Promise<void> {
  await waitApiReady();
  // A node container whose Node object is gone (deleted, never re-registered) is broken too.
  const containers = (await nodeContainers()).map((c) => c.name);
  const registered = (await kubectl(['get', 'nodes', '-o', 'name'])).stdout
    .split('\n')
    .filter(Boolean)
    .map((n) => n.replace('node/', ''));
  const missing = containers.filter((c) => !registered.includes(c));
  if (missing.length) throw new Error(`node container(s) without a Node object: ${missing.join(', ')}`);
  // kubectl wait watches the objects: it returns on the event, it does not poll on a timer.
  await kubectl(['wait', '--for=condition=Ready', 'node', '--all', `--timeout=${NODES_READY_TIMEOUT}`]);
  for (const ns of ['kube-system', 'kube-flannel', 'lab-storage']) {
    const has = await kubectl(['get', 'pods', '-n', ns, '-o', 'name']).nothrow();
    if (has.exitCode !== 0 || !has.stdout.trim()) continue;
    await kubectl([
      'wait',
      '-n',
      ns,
      '--for=condition=Ready',
      'pod',
      '--all',
      `--timeout=${SYSTEM_PODS_TIMEOUT}`,
    ]);
  }
}

async function podNetworkProblems(): Promise<Map<string, string>> {
  const nodes = JSON.parse((await kubectl(['get', 'nodes', '-o', 'json'])).stdout) as { items: V1Node[] };
  const problems = new Map<string, string>();
  for (const node of nodes.items) {
    const name = node.metadata!.name!;
    const problem = await podNetworkProblem(node, name, FLANNEL_SETTLE_SECONDS);
    if (problem) problems.set(name, problem);
  }
  return problems;
}

/** A node whose flanneld disagrees with its Node object (e.g. a run killed between deleting the Node
 * and rebooting it) is rebooted on its own IP: flanneld then starts from the Node as it is now. */
async function repairPodNetworks(): Promise<void> {
  const problems = await podNetworkProblems();
  if (!problems.size) return;
  for (const [name, problem] of problems) console.log(`[cluster] ${problem}: rebooting ${name}`);
  const names = [...problems.keys()];
  for (const name of names) await $`docker stop ${name}`;
  await pinNodeIps(names);
  for (const name of names) await $`docker start ${name}`;
  await waitHealthy();
  const left = await podNetworkProblems();
  if (left.size) throw new Error(`pod network still broken after a reboot: ${[...left.values()].join('; ')}`);
}

async function explainUnhealthy(): Promise<string> {
  const nodes = await kubectl(['get', 'nodes', '-o', 'wide', '--request-timeout=10s']).nothrow();
  const pods = await kubectl(['get', 'pods', '-A', '--request-timeout=10s']).nothrow();
  return `${nodes.stdout}${nodes.stderr}\n${pods.stdout}${pods.stderr}`;
}

export interface UpOptions {
  /** A cluster bundle (file, or folder of bundles) to start from instead of building; else LAB_BUNDLE. */
  bundle?: string;
}

async function bringUp(options: UpOptions = {}): Promise<void> {
  const t0 = performance.now();
  const images = chooseImages(process.env, versions);
  const bundleGiven = options.bundle ?? process.env.LAB_BUNDLE;
  if (bundleGiven && images.mode === 'stock')
    throw new Error(
      `a bundle holds the air-gapped images, and LAB_IMAGES/KIND_NODE_IMAGE ask for stock ones: drop one of the two`,
    );
  const source =
    images.mode === 'stock'
      ? images.node
      : bundleGiven
        ? `from the bundle ${bundleGiven}`
        : bundleLoadedHere()
          ? 'from the bundle loaded into this cache'
          : 'built here from package registries';
  console.log(`[cluster] images: ${images.mode} (${source})`);
  // A bundle is verified whole before anything else: one that is refused has changed nothing.
  const bundle = bundleGiven
    ? await stage('verify bundle', async () => {
        const here = checkoutFacts();
        return verifyForCheckout(resolveBundle(bundleGiven, here), here);
      })
    : undefined;
  await stage('docker engine', ensureDocker);
  // Before anything is built, started, stopped or deleted: a cluster named like ours must be ours.
  const existing = await nodeContainers();
  if (existing.length)
    await stage('prove ownership', () =>
      proveOwnership(
        existing.map((c) => c.name),
        'cluster:up',
      ),
    );
  // A cache filled from a bundle earlier has no Go builds to take from: it keeps using that bundle.
  const nodeImage = bundle
    ? await stage('load bundle', () => loadBundle(bundle))
    : ((images.mode === 'airgapped' ? await nodeImageFromLoadedBundle() : undefined) ??
      (await stage(images.mode === 'stock' ? 'node image (stock)' : 'images (build or cache)', () =>
        buildImages(images),
      )));
  linkTools();
  const kindOk = await $`kind version`.nothrow();
  if (kindOk.exitCode !== 0) {
    throw new Error(
      images.mode === 'stock'
        ? 'kind is not installed: run `go install sigs.k8s.io/kind@' +
            versions.KIND_VERSION +
            '` or put kind on PATH.'
        : `kind was not built: see ${LAB_CACHE}/logs/go-kind.log`,
    );
  }

  let containers = existing;
  if (containers.length > 0) {
    const stale = containers.find((c) => c.image !== nodeImage);
    const foreignNet = await firstOffLabNetwork(containers);
    if (stale) {
      console.log(
        `[cluster] node ${stale.name} runs ${stale.image}, not ${nodeImage}: recreating the cluster`,
      );
      await stage('delete outdated cluster', deleteCluster);
      containers = [];
    } else if (foreignNet) {
      console.log(
        `[cluster] node ${foreignNet.node} is on Docker network ${foreignNet.network}, not ${LAB_NETWORK}: a stopped node could not be started again on its own IP there, so the cluster is recreated on ${LAB_NETWORK}`,
      );
      await stage('delete cluster on the wrong network', deleteCluster);
      containers = [];
    }
  }

  if (containers.length > 0) {
    // A node Docker restarted by itself on another node's IP is stopped and re-pinned below.
    const recorded = recordedNodeIps();
    for (const c of containers.filter((c) => c.state === 'running' && recorded[c.name])) {
      const ip = await currentIp(c.name);
      if (ip !== recorded[c.name]) {
        console.log(
          `[cluster] node ${c.name} came back on ${ip}, not ${recorded[c.name]}: restarting it on its own IP`,
        );
        await $`docker stop ${c.name}`;
        c.state = 'exited';
      }
    }
    const stopped = containers.filter((c) => c.state !== 'running');
    const restartedAt = new Date();
    if (stopped.length > 0) {
      // After a Docker restart every node is stopped; the control plane goes first so the workers'
      // kubelets find their API server.
      await stage(`start ${stopped.length} stopped node(s)`, async () => {
        await pinNodeIps(stopped.filter((c) => c.state !== 'paused').map((c) => c.name));
        for (const c of stopped) {
          if (c.state === 'paused') await $`docker unpause ${c.name}`;
          else await $`docker start ${c.name}`;
        }
      });
    }
    await stage('kubeconfig', async () => {
      writeFileSync(KUBECONFIG_PATH, (await $`kind get kubeconfig --name ${CLUSTER_NAME}`).stdout);
    });
    try {
      await stage('wait for the existing cluster', async () => {
        await waitApiReady();
        if (stopped.length > 0) {
          await waitForFreshLeases(
            containers.map((c) => c.name),
            restartedAt,
            Number(process.env.LAB_API_READY_TIMEOUT ?? 120),
          );
        }
        await waitHealthy();
      });
      await stage('check pod network', repairPodNetworks);
    } catch (err) {
      console.log(
        `[cluster] the existing cluster is not healthy (${err instanceof Error ? err.message : String(err)}); what it shows:\n${await explainUnhealthy()}\n[cluster] recreating it`,
      );
      await stage('delete broken cluster', deleteCluster);
      containers = [];
    }
  }

  if (containers.length === 0) {
    await stage('create cluster', () => createCluster(nodeImage));
    if (images.mode === 'stock') await stage('lab storage and images', addLabStorageToStockCluster);
    await stage('wait for nodes and system pods', waitHealthy);
  }
  await stage('check: no image pulls', smokeCheck);
  const total = (performance.now() - t0) / 1000;
  console.log(
    `[cluster] ready in ${total.toFixed(1)}s: ${timings.map((t) => `${t.stage} ${t.seconds.toFixed(1)}s`).join(', ')}`,
  );
  console.log(`[cluster] kubeconfig: ${KUBECONFIG_PATH} (context ${KUBE_CONTEXT})`);
}

/** Every pod's image was found on its node: in air-gapped mode not one pull may be attempted. */
async function smokeCheck(): Promise<void> {
  const pulls = await kubectl(['get', 'events', '-A', '--field-selector', 'reason=Pulling', '-o', 'name']);
  const pulled = pulls.stdout.split('\n').filter(Boolean).length;
  if (pulled > 0 && chooseImages(process.env, versions).mode === 'airgapped') {
    throw new Error(
      `${pulled} image pull(s) were attempted in an air-gapped cluster:\n${(await kubectl(['get', 'events', '-A', '--field-selector', 'reason=Pulling'])).stdout}`,
    );
  }
  console.log(`[cluster] image pulls from registries: ${pulled}`);
}

async function takeDown(): Promise<void> {
  const containers = await nodeContainers();
  if (containers.length === 0) {
    console.log(`[cluster] no cluster named ${CLUSTER_NAME}: nothing to delete`);
    await removeLabNetwork();
    return;
  }
  await proveOwnership(
    containers.map((c) => c.name),
    'cluster:down',
  );
  await stage('delete cluster', deleteCluster);
  await removeLabNetwork();
}

export async function status(): Promise<void> {
  const containers = await nodeContainers();
  if (containers.length === 0) {
    console.log(`[cluster] no cluster named ${CLUSTER_NAME}. Run: npm run cluster:up`);
    process.exitCode = 1;
    return;
  }
  for (const c of containers) console.log(`[cluster] node container ${c.name}: ${c.state} (${c.image})`);
  const r = await kubectl(['get', 'nodes,pods', '-A', '-o', 'wide', '--request-timeout=10s']).nothrow();
  console.log(r.stdout || r.stderr);
  process.exitCode = r.exitCode ?? 1;
}

/** One cluster:up or cluster:down at a time on this machine: a second waits instead of acting beside it. */
async function withClusterLock(what: string, work: () => Promise<void>): Promise<void> {
  await acquireClusterLock(what);
  try {
    await work();
  } finally {
    releaseClusterLock();
  }
}

export const up = (options: UpOptions = {}) => withClusterLock('cluster:up', () => bringUp(options));
/** cluster:bundle: under the cluster lock, so the node image cannot be rebuilt while it is saved. */
export const bundle = (options: MakeOptions = {}) =>
  withClusterLock('cluster:bundle', async () => {
    await makeBundle(options);
  });
export const down = () => withClusterLock('cluster:down', takeDown);
