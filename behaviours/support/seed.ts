// The seed's MySQL StatefulSet (manifests/mysql-statefulset.yaml), rendered for one behaviour: the
// behaviour names what it varies (replicas, storage class, pod management policy, a short toleration
// for node loss…) and everything else stays as the manifest says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  KubernetesObject,
  V1Deployment,
  V1StatefulSet,
  V1StatefulSetUpdateStrategy,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';
import { chooseImages, parseVersions } from '../../lib/cluster/images.ts';

/** The workload images of the current mode (air-gapped builds, or LAB_IMAGES=stock). */
export const workloadImages = () =>
  chooseImages(process.env, parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8')));

export const SEED_MANIFEST = join(REPO_ROOT, 'manifests/mysql-statefulset.yaml');
export const ROOT_PASSWORD = 'qwerty';

export interface SeedOptions {
  replicas?: number;
  storageClass?: 'standard' | 'shared';
  podManagementPolicy?: 'OrderedReady' | 'Parallel';
  /** Seconds the pods tolerate node.kubernetes.io/unreachable and not-ready (node loss). */
  tolerationSeconds?: number;
  pvcRetention?: { whenScaled: 'Retain' | 'Delete'; whenDeleted: 'Retain' | 'Delete' };
  /** Pins every pod to these nodes (e.g. the workers, so a behaviour knows which node it may stop). */
  nodeNames?: string[];
  /** Among nodeNames, the node the scheduler should pick while it is available. */
  preferNode?: string;
  /** Workload image; the built MariaDB image (or the stock one) by default. */
  image?: string;
  updateStrategy?: V1StatefulSetUpdateStrategy;
}

const onHosts = (values: string[]) => ({
  matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values }],
});

export function renderSeed(namespace: string, options: SeedOptions = {}) {
  const docs = parseAllDocuments(readFileSync(SEED_MANIFEST, 'utf8')).map(
    (d) => d.toJS() as KubernetesObject,
  );
  const byKind = (kind: string) => {
    const found = docs.find((d) => d.kind === kind);
    if (!found) throw new Error(`${SEED_MANIFEST} has no ${kind}`);
    found.metadata = { ...found.metadata, namespace };
    return found;
  };
  const statefulSet = byKind('StatefulSet') as V1StatefulSet;
  const spec = statefulSet.spec!;
  const pod = spec.template.spec!;
  const { replicas, podManagementPolicy, updateStrategy, storageClass, nodeNames, preferNode } = options;
  pod.containers[0]!.image = options.image ?? workloadImages().mysql;
  if (replicas !== undefined) spec.replicas = replicas;
  if (podManagementPolicy) spec.podManagementPolicy = podManagementPolicy;
  if (updateStrategy) spec.updateStrategy = updateStrategy;
  if (storageClass) spec.volumeClaimTemplates![0]!.spec!.storageClassName = storageClass;
  if (options.pvcRetention) spec.persistentVolumeClaimRetentionPolicy = options.pvcRetention;
  if (options.tolerationSeconds !== undefined) {
    const tolerationSeconds = options.tolerationSeconds;
    pod.tolerations = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map((key) => ({
      key,
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds,
    }));
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
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: statefulSet.metadata!.namespace },
    spec: { replicas: statefulSet.spec!.replicas, selector: { matchLabels: labels }, template },
  };
}
