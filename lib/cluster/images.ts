// How cluster:up chooses its images: built here from package registries (the default, and the only
// way on machines without a container registry), or stock images where the internet is reachable;
// and whether the nodes hold an image (the conformance suite's, loaded after the cluster is up).
import { join } from 'node:path';
import { $ } from 'zx';
import { CLUSTER_NAME, KIND_CLUSTER_LABEL, LAB_BIN } from './paths.ts';

export type ImageMode = 'airgapped' | 'stock';

export interface ClusterImages {
  mode: ImageMode;
  /** Node image for kind; undefined in air-gapped mode until the build has printed its tag. */
  node?: string;
  mysql: string;
  tools: string;
}

export const AIRGAPPED_MYSQL_IMAGE = 'statefulset-lab/mysql:mariadb-bookworm';
export const AIRGAPPED_TOOLS_IMAGE = 'statefulset-lab/tools:bookworm';

/**
 * KIND_NODE_IMAGE=kindest/node:v1.33.1 (or LAB_IMAGES=stock) selects stock images; LAB_MYSQL_IMAGE
 * and LAB_TOOLS_IMAGE override the workload images in either mode.
 */
export function chooseImages(env: NodeJS.ProcessEnv, stockDefaults: Record<string, string>): ClusterImages {
  const requested = env.LAB_IMAGES ?? (env.KIND_NODE_IMAGE ? 'stock' : 'airgapped');
  if (requested !== 'airgapped' && requested !== 'stock') {
    throw new Error(
      `LAB_IMAGES=${requested} is not a mode: use LAB_IMAGES=airgapped (build everything here) or LAB_IMAGES=stock (pull kindest/node and mysql; needs internet).`,
    );
  }
  if (requested === 'stock') {
    return {
      mode: 'stock',
      node: env.KIND_NODE_IMAGE ?? stockDefaults.STOCK_NODE_IMAGE,
      mysql: env.LAB_MYSQL_IMAGE ?? stockDefaults.STOCK_MYSQL_IMAGE ?? 'mysql:5.7',
      // The tools image is ours in both modes: cluster:up builds it and loads it into the cluster.
      tools: env.LAB_TOOLS_IMAGE ?? AIRGAPPED_TOOLS_IMAGE,
    };
  }
  return {
    mode: 'airgapped',
    mysql: env.LAB_MYSQL_IMAGE ?? AIRGAPPED_MYSQL_IMAGE,
    tools: env.LAB_TOOLS_IMAGE ?? AIRGAPPED_TOOLS_IMAGE,
  };
}

/** Reads scripts/versions.env (KEY=VALUE lines with # comments). */
export function parseVersions(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S*)/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

export interface ImageOnNode {
  node: string;
  image: string;
  /** Why it does not count as there: absent, or another build under the same tag. */
  problem: string;
}

/**
 * Which of `images` a node container's containerd lacks (read with crictl inside the node: a read,
 * nothing is pulled). With `ids` (tag → Docker image id), an image under the right tag but of
 * another build counts as missing too.
 */
async function imagesMissingOnNodes(
  nodes: string[],
  images: string[],
  ids: Map<string, string> = new Map(),
): Promise<ImageOnNode[]> {
  const missing: ImageOnNode[] = [];
  for (const node of nodes) {
    for (const image of images) {
      const r = await $`docker exec ${node} crictl inspecti -o json ${image}`.nothrow().quiet();
      if (r.exitCode !== 0) {
        missing.push({ node, image, problem: `not on the node (${r.stderr.trim().split('\n')[0] ?? ''})` });
        continue;
      }
      const id = (JSON.parse(r.stdout) as { status?: { id?: string } }).status?.id;
      const want = ids.get(image);
      if (want && id !== want)
        missing.push({ node, image, problem: `the node has ${id}, Docker has ${want}` });
    }
  }
  return missing;
}

/** The lab cluster's node containers, by name. */
export async function labNodeContainers(): Promise<string[]> {
  const out = await $`docker ps -a --filter label=${KIND_CLUSTER_LABEL}=${CLUSTER_NAME} --format {{.Names}}`;
  return out.stdout.split('\n').filter(Boolean).sort();
}

/**
 * Puts Docker's `images` on each of `nodes` that lacks them or holds another build (`kind load`),
 * then looks again; returns the images it loaded. The caller has proven the cluster is ours.
 */
export async function loadOntoNodes(nodes: string[], images: string[]): Promise<string[]> {
  const ids = new Map<string, string>();
  for (const image of images)
    ids.set(image, (await $`docker image inspect -f {{.Id}} ${image}`.quiet()).stdout.trim());
  const toLoad = [...new Set((await imagesMissingOnNodes(nodes, images, ids)).map((m) => m.image))];
  if (toLoad.length)
    await $({
      stdio: ['ignore', 'inherit', 'inherit'],
    })`${join(LAB_BIN, 'kind')} load docker-image --name ${CLUSTER_NAME} ${toLoad}`;
  const after = await imagesMissingOnNodes(nodes, images, ids);
  if (after.length)
    throw new Error(
      `images missing on nodes after loading: ${after.map((m) => `${m.image} on ${m.node}: ${m.problem}`).join('; ')}`,
    );
  return toLoad;
}
