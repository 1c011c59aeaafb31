// Whose cluster is this? Proven from Docker alone, before cluster:up or cluster:down does anything
// to a cluster named like ours: every node container is created with a read-only mount of
// <cache>/owners/<cluster id>, so `docker inspect` names the owning cache's id in any state —
// running, stopped, paused, or with an API server that does not answer. A cluster made before
// nodes carried that mount is proven by its owner ConfigMap instead, which needs its API server.
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { $ } from 'zx';
import { ForeignClusterError } from './kube.ts';
import { CLUSTER_ID_PATH, CLUSTER_NAME, LAB_CACHE, OWNER_CONFIGMAP } from './paths.ts';

/** Where each node sees the owner mount; its host side is ownerDir(id). */
export const OWNER_MOUNT = '/etc/statefulset-lab/owner';
export const ownerDir = (id: string) => join(LAB_CACHE, 'owners', id);

export function ourClusterId(): string | undefined {
  return existsSync(CLUSTER_ID_PATH) ? readFileSync(CLUSTER_ID_PATH, 'utf8').trim() || undefined : undefined;
}

/** The owner id each node container carries in its mount, or undefined for a node without one. */
export async function ownerIdsOfNodes(containers: string[]): Promise<Map<string, string | undefined>> {
  const format = `{{.Name}}{{range .Mounts}}{{if eq .Destination "${OWNER_MOUNT}"}} {{.Source}}{{end}}{{end}}`;
  const out = (await $`docker inspect -f ${format} ${containers}`).stdout.trim().split('\n');
  return new Map(
    out.map((line) => {
      const [name = '', source] = line.trim().split(' ');
      return [name.replace(/^\//, ''), source ? basename(source) : undefined];
    }),
  );
}

/**
 * A legacy cluster's owner ConfigMap, read (never written) with the kubeconfig kind gives for it:
 * the id it holds, or why it could not be read. A failed read never counts as ours: the caller refuses.
 */
async function ownerIdFromApi(): Promise<{ id?: string; why?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lab-owner-'));
  const failed = (what: string, r: { stderr: string; exitCode: number | null }) => ({
    why: `${what} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n')[0] ?? ''}`,
  });
  try {
    const config = await $`kind get kubeconfig --name ${CLUSTER_NAME}`.nothrow();
    if (config.exitCode !== 0) return failed('kind get kubeconfig', config);
    writeFileSync(join(dir, 'kubeconfig'), config.stdout);
    const { namespace, name } = OWNER_CONFIGMAP;
    const jsonpath = 'jsonpath={.data.clusterId}';
    const r =
      await $`kubectl --kubeconfig ${join(dir, 'kubeconfig')} get configmap -n ${namespace} ${name} -o ${jsonpath} --request-timeout=10s`.nothrow();
    if (r.exitCode !== 0) return failed(`reading ${namespace}/${name}`, r);
    return r.stdout.trim() ? { id: r.stdout.trim() } : { why: `${namespace}/${name} holds no clusterId` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Returns when the node containers of the cluster named like ours belong to this cache; else
 * throws, saying what to do. Only reads: docker inspect, and for a legacy cluster one GET.
 */
export async function proveOwnership(containers: string[], doing: string): Promise<void> {
  const ours = ourClusterId();
  const refuse = (why: string) =>
    new ForeignClusterError(
      `${doing}: a kind cluster named ${CLUSTER_NAME} exists, but ${why}, so the lab refuses to touch it. ` +
        `Point LAB_CACHE at the cache that created it, or delete it yourself (kind delete cluster --name ${CLUSTER_NAME}).`,
    );
  if (!ours) throw refuse(`this cache (${LAB_CACHE}) has no cluster id: it did not create it`);
  const owners = await ownerIdsOfNodes(containers);
  const foreign = [...owners].filter(([, id]) => id !== undefined && id !== ours);
  if (foreign.length)
    throw refuse(
      `its node ${foreign[0]![0]} belongs to lab cache id ${foreign[0]![1]}, not this cache's ${ours}`,
    );
  const unmarked = [...owners].filter(([, id]) => id === undefined).map(([name]) => name);
  if (unmarked.length === 0) return;
  if (unmarked.length < owners.size)
    throw refuse(`its nodes ${unmarked.join(', ')} carry no owner mount while the others do`);
  // Made before nodes carried the mount: only its API server can say whose it is.
  const fromApi = await ownerIdFromApi();
  if (fromApi.id === ours) return;
  throw refuse(
    fromApi.id
      ? `its owner ConfigMap holds ${fromApi.id}, not this cache's id ${ours}`
      : `its nodes carry no owner mount (it predates them) and its owner ConfigMap could not be read (${fromApi.why}; it may be stopped: start its nodes with docker start, then run this again)`,
  );
}
