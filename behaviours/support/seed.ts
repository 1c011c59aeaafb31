// The seed's MySQL StatefulSet (manifests/mysql-statefulset.yaml), rendered for one scenario:
// the scenario names what it varies (replicas, storage class, pod management policy, a short
// toleration for node-loss scenarios…) and everything else stays as the manifest says.
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
export function workloadImages() {
  return chooseImages(
    process.env,
    parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8')),
  );
}

export const SEED_MANIFEST = join(REPO_ROOT, 'manifests/mysql-statefulset.yaml');
export const SEED_IMAGE = 'statefulset-lab/mysql:mariadb-bookworm';
export const ROOT_PASSWORD = 'qwerty';

export interface SeedOptions {
  replicas?: number;
  storageClass?: 'standard' | 'shared';
  podManagementPolicy?: 'OrderedReady' | 'Parallel';
  /** Seconds the pods tolerate node.kubernetes.io/unreachable and not-ready (node-loss scenarios). */
  tolerationSeconds?: number;
  pvcRetention?: { whenScaled: 'Retain' | 'Delete'; whenDeleted: 'Retain' | 'Delete' };
  /** Pins every pod to these nodes (e.g. the workers, so a scenario knows which node it may stop). */
  nodeNames?: string[];
  /** Among nodeNames, the node the scheduler should pick while it is available. */
  preferNode?: string;
  /** Workload image; LAB_MYSQL_IMAGE or the built MariaDB image by default. */
  image?: string;
  updateStrategy?: V1StatefulSetUpdateStrategy;
}

export interface SeedObjects {
  secret: KubernetesObject;
  service: KubernetesObject;
  statefulSet: V1StatefulSet;
}

export function renderSeed(namespace: string, options: SeedOptions = {}): SeedObjects {
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
  const container = pod.containers[0]!;
  container.image = options.image ?? workloadImages().mysql;
  if (options.replicas !== undefined) spec.replicas = options.replicas;
  if (options.podManagementPolicy) spec.podManagementPolicy = options.podManagementPolicy;
  if (options.updateStrategy) spec.updateStrategy = options.updateStrategy;
  if (options.storageClass) spec.volumeClaimTemplates![0]!.spec!.storageClassName = options.storageClass;
  if (options.pvcRetention) spec.persistentVolumeClaimRetentionPolicy = options.pvcRetention;
  if (options.tolerationSeconds !== undefined) {
    pod.tolerations = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map((key) => ({
      key,
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: options.tolerationSeconds,
    }));
  }
  if (options.nodeNames) {
    pod.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'kubernetes.io/hostname', operator: 'In', values: options.nodeNames },
              ],
            },
          ],
        },
        ...(options.preferNode
          ? {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  preference: {
                    matchExpressions: [
                      { key: 'kubernetes.io/hostname', operator: 'In', values: [options.preferNode] },
                    ],
                  },
                },
              ],
            }
          : {}),
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
