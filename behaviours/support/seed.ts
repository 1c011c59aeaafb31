// The seed's MySQL StatefulSet (manifests/mysql-statefulset.yaml), rendered for one behaviour: the
// behaviour names what it varies and everything else stays as the manifest says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';
import { chooseImages, parseVersions } from '../../lib/cluster/images.ts';

/** The workload images of the current mode (air-gapped builds, or LAB_IMAGES=stock). */
export const workloadImages = () =>
  chooseImages(process.env, parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8')));

const SEED_MANIFEST = join(REPO_ROOT, 'manifests/mysql-statefulset.yaml');
export const ROOT_PASSWORD = 'qwerty';

export interface SeedOptions {
  /** Another StatefulSet beside the seed's: its own name and labels, so neither adopts the other's
   * pods and the Service still selects only mysql-N. */
  name?: string;
  replicas?: number;
  storageClass?: 'standard' | 'shared';
  podManagementPolicy?: 'OrderedReady' | 'Parallel';
  /** Seconds the pods tolerate node.kubernetes.io/unreachable and not-ready (node loss). */
  tolerationSeconds?: number;
  /** Pins every pod to these nodes (e.g. the workers, so a behaviour knows which node it may stop). */
  nodeNames?: string[];
  /** Among nodeNames, the node the scheduler should pick while it is available. */
  preferNode?: string;
}

const onHosts = (values: string[]) => ({
  matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values }],
});

export function renderSeed(namespace: string, options: SeedOptions = {}) {
  const manifest = readFileSync(SEED_MANIFEST, 'utf8');
  const docs: KubernetesObject[] = parseAllDocuments(manifest).map((d) => d.toJS());
  const byKind = (kind: string) => {
    const found = docs.find((d) => d.kind === kind);
    if (!found) throw new Error(`${SEED_MANIFEST} has no ${kind}`);
    found.metadata = { ...found.metadata, namespace };
    return found;
  };
  const statefulSet = byKind('StatefulSet') as V1StatefulSet;
  const spec = statefulSet.spec!;
  const pod = spec.template.spec!;
  const { name, replicas, podManagementPolicy, storageClass, tolerationSeconds, nodeNames, preferNode } =
    options;
  if (name) {
    statefulSet.metadata!.name = name;
    spec.selector = { matchLabels: { app: name } };
    spec.template.metadata = { labels: { app: name } };
  }
  pod.containers[0]!.image = workloadImages().mysql;
  if (replicas !== undefined) spec.replicas = replicas;
  if (podManagementPolicy) spec.podManagementPolicy = podManagementPolicy;
  if (storageClass) spec.volumeClaimTemplates![0]!.spec!.storageClassName = storageClass;
  if (tolerationSeconds !== undefined) {
    const toleration = (key: string) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds });
    pod.tolerations = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map(toleration);
  }
  if (nodeNames) {
    const preferred = preferNode ? [{ weight: 100, preference: onHosts([preferNode]) }] : undefined;
    pod.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [onHosts(nodeNames)] },
        preferredDuringSchedulingIgnoredDuringExecution: preferred,
      },
    };
  }
  return { secret: byKind('Secret'), service: byKind('Service'), statefulSet };
}

/** The same pod template run by a Deployment: the contrast the seed draws (hashed names, no per-pod volume). */
export function deploymentOf(statefulSet: V1StatefulSet, name: string): V1Deployment {
  const template = structuredClone(statefulSet.spec!.template);
  const labels = { app: name };
  template.metadata = { labels };
  // A Deployment has no volumeClaimTemplates: the pods share nothing per pod, so give them an emptyDir.
  template.spec!.volumes = [{ name: 'pvc', emptyDir: {} }];
  const metadata = { name, namespace: statefulSet.metadata!.namespace };
  const spec = { replicas: statefulSet.spec!.replicas, selector: { matchLabels: labels }, template };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec };
}

/** The seed's objects, as a plan names them (`--plan`). */
export const SEED_OBJECTS = (replicas: number) =>
  `the seed: StatefulSet mysql (${replicas} replica${replicas > 1 ? 's' : ''}), headless Service mysql, PVCs pvc-mysql-<n>`;
export const CLIENT_POD = 'pod client (dig and a mysql client)';
