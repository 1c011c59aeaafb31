// Names and places every part of the harness agrees on: the one cluster it owns, where its
// kubeconfig and caches live. Overridable by env so a CI job or a second checkout can move them.
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const CLUSTER_NAME = 'statefulset-lab';
/** kind names the kube context after the cluster. */
export const KUBE_CONTEXT = `kind-${CLUSTER_NAME}`;
/** Docker label kind puts on every node container of a cluster. */
export const KIND_CLUSTER_LABEL = 'io.x-k8s.kind.cluster';
/**
 * The Docker network the lab's nodes live on, created by cluster:up (not kind's shared `kind`
 * network): its IPv4 subnet is set explicitly, the only way Docker lets a stopped node be started
 * again on its own address. kind is pointed at it through KIND_EXPERIMENTAL_DOCKER_NETWORK.
 */
export const LAB_NETWORK = CLUSTER_NAME;
/** Label on that network: the lab removes or reuses only a network that carries it. */
export const LAB_NETWORK_LABEL = 'io.statefulset-lab.network';
/** ConfigMap that cluster:up writes into kube-system; its clusterId must match the cache's. */
export const OWNER_CONFIGMAP = { namespace: 'kube-system', name: 'statefulset-lab-owner' };
/** Label on every namespace the harness creates, so stale ones can be found and swept. */
export const NAMESPACE_LABEL = 'statefulset-lab/run';
/** This process's run: its namespaces carry it as NAMESPACE_LABEL, its files go to artifacts/<RUN_ID>. */
export const RUN_ID = `${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${randomBytes(2).toString('hex')}`;

export const LAB_CACHE =
  process.env.LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'statefulset-lab');
/** A kubeconfig holding only this project's cluster: the harness never reads ~/.kube/config. */
export const KUBECONFIG_PATH = join(LAB_CACHE, 'kubeconfig');
/** Random id written when cluster:up creates the cluster; proves the cluster is ours. */
export const CLUSTER_ID_PATH = join(LAB_CACHE, 'cluster-id');
/** Undo journal of injected faults, replayed at the next start after a crash. LAB_JOURNAL moves it
 * (the harness's own tests use a private one so they never replay a concurrent run's faults). */
export const JOURNAL_PATH = process.env.LAB_JOURNAL ?? join(LAB_CACHE, 'fault-journal.jsonl');
/** One cluster:up or cluster:down at a time (lib/cluster/lock.ts). */
export const CLUSTER_LOCK_PATH = join(LAB_CACHE, 'cluster.lock');
/** Held by the one process on this machine that has a node faulted (see lock.ts). */
export const NODE_FAULT_LOCK_PATH = join(dirname(JOURNAL_PATH), 'node-fault.lock');
/** Built helper binaries (kind, kubectl) that cluster:up puts on PATH. */
export const LAB_BIN = join(LAB_CACHE, 'bin');

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const ARTIFACTS_DIR = process.env.LAB_ARTIFACTS ?? join(REPO_ROOT, 'artifacts');
