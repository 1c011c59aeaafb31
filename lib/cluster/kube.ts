// Typed clients for the lab's own kind cluster, and the guard that refuses any other cluster before
// a single call that could change it.
import { existsSync, readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { CLUSTER_ID_PATH, KUBECONFIG_PATH, KUBE_CONTEXT, OWNER_CONFIGMAP } from './paths.ts';
import { TARGET, type Target } from './target.ts';
import { CONSENT_CONFIGMAP, consentOf, type Consent } from './consent.ts';

export interface Kube {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  objects: k8s.KubernetesObjectApi;
  /** Set on a cluster that is not the lab's: what its owner allows. */
  consent?: Consent;
}

const clients = (kc: k8s.KubeConfig): Kube => ({
  kc,
  core: kc.makeApiClient(k8s.CoreV1Api),
  apps: kc.makeApiClient(k8s.AppsV1Api),
  objects: k8s.KubernetesObjectApi.makeApiClient(kc),
});

export class ForeignClusterError extends Error {
  override name = 'ForeignClusterError';
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/** Checks what can be checked without the network: the context's name and that it is local. */
export function checkKubeconfig(kc: k8s.KubeConfig, source: string): void {
  const context = kc.getCurrentContext();
  if (context !== KUBE_CONTEXT) {
    throw new ForeignClusterError(
      `${source} points at context "${context}", not the lab's "${KUBE_CONTEXT}". The lab only acts on the kind cluster it created: run \`npm run cluster:up\` and leave ${KUBECONFIG_PATH} to it.`,
    );
  }
  const server = kc.getCurrentCluster()?.server ?? '';
  let host = '';
  try {
    host = new URL(server).hostname;
  } catch {
    // no server, or not a URL: refused below like any other non-local one
  }
  if (!LOOPBACK.test(host)) {
    throw new ForeignClusterError(
      `${source}: context ${context} talks to ${server || 'no server'}, not to a kind cluster on this machine's loopback. Refusing to touch it: the lab only acts on the cluster \`npm run cluster:up\` creates, whose kubeconfig is ${KUBECONFIG_PATH}.`,
    );
  }
}

export interface ConnectOptions {
  /** The id this cache expects in the owner ConfigMap (tests point it elsewhere). */
  clusterIdPath?: string;
  /** The cluster to act on (default: LAB_CLUSTER's, else the lab's). */
  target?: Target;
}

/**
 * Clients for the lab cluster, once its owner ConfigMap proves the cluster is the one this cache
 * created. Nothing is sent to a server before the kubeconfig passes the local checks, and the only
 * request before the ownership is proven is one GET of that ConfigMap.
 */
export async function connect(kubeconfigPath?: string, options: ConnectOptions = {}): Promise<Kube> {
  const target = options.target ?? TARGET;
  if (!kubeconfigPath && target.foreign) return connectWithConsent(target);
  kubeconfigPath ??= KUBECONFIG_PATH;
  if (!existsSync(kubeconfigPath)) {
    throw new ForeignClusterError(
      `No lab kubeconfig at ${kubeconfigPath}: run \`npm run cluster:up\` first.`,
    );
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  checkKubeconfig(kc, kubeconfigPath);
  const kube = clients(kc);
  await checkOwner(kube, options.clusterIdPath ?? CLUSTER_ID_PATH);
  return kube;
}

/**
 * Clients for a cluster of the user's (LAB_CLUSTER), once it consents. The only request before
 * that is one GET of the consent ConfigMap; no consent, no further call.
 */
async function connectWithConsent(target: Target): Promise<Kube> {
  const { context, kubeconfig } = target;
  if (!existsSync(kubeconfig)) {
    throw new ForeignClusterError(
      `LAB_CLUSTER=${context}: no kubeconfig at ${kubeconfig} (set LAB_KUBECONFIG to the file that has this context)`,
    );
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  if (!kc.getContexts().some((c) => c.name === context)) {
    throw new ForeignClusterError(
      `LAB_CLUSTER=${context}: ${kubeconfig} has no such context (it has ${
        kc
          .getContexts()
          .map((c) => c.name)
          .join(', ') || 'none'
      })`,
    );
  }
  kc.setCurrentContext(context);
  const kube = clients(kc);
  const cm = await kube.core.readNamespacedConfigMap(CONSENT_CONFIGMAP).catch((err: { code?: number }) => {
    if (err.code === 404) return undefined;
    throw new ForeignClusterError(
      `LAB_CLUSTER=${context}: cannot read ${CONSENT_CONFIGMAP.namespace}/${CONSENT_CONFIGMAP.name} (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); refusing to act without the cluster's consent`,
    );
  });
  kube.consent = consentOf(cm, context);
  return kube;
}

async function checkOwner(kube: Kube, clusterIdPath: string): Promise<void> {
  const expected = existsSync(clusterIdPath) ? readFileSync(clusterIdPath, 'utf8').trim() : undefined;
  if (!expected) {
    throw new ForeignClusterError(
      `This machine's lab cache has no cluster id (${clusterIdPath}): the cluster was not created by \`npm run cluster:up\` here. Refusing to touch it.`,
    );
  }
  let found: string | undefined;
  try {
    const cm = await kube.core.readNamespacedConfigMap(OWNER_CONFIGMAP);
    found = cm.data?.clusterId;
  } catch (err) {
    throw new ForeignClusterError(
      `Cannot read ${OWNER_CONFIGMAP.namespace}/${OWNER_CONFIGMAP.name} (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): this is not a cluster the lab created, or it is not up. Run \`npm run cluster:up\`.`,
    );
  }
  if (found !== expected) {
    throw new ForeignClusterError(
      `The cluster's owner id is ${found ?? 'missing'}, this cache's (${clusterIdPath}) is ${expected}: another lab cache created it, or it was recreated by hand. Refusing to touch it; \`npm run cluster:down && npm run cluster:up\` makes a cluster this cache owns.`,
    );
  }
}
