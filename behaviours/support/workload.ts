// The profile's StatefulSet (the seed's MySQL by default, lib/workload/profile.ts), rendered for one
// behaviour: the behaviour names what it varies and everything else stays as the profile's manifest says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';
import { chooseImages, parseVersions } from '../../lib/cluster/images.ts';
import { loadProfile } from '../../lib/workload/profile.ts';

export const PROFILE = loadProfile();
const SEED = PROFILE.name === 'mysql'; // the seed's MySQL, which the texts name as the seed
/** The StatefulSet's name, its pods' (`<sts>-<n>`), its PVCs' (`<template>-<pod>`) and DNS names. */
export const STS = PROFILE.statefulSet;
export const podName = (ordinal: number) => `${STS}-${ordinal}`;
export const claimOf = (pod: string) => `${PROFILE.claimTemplate}-${pod}`;
export const hostOf = (pod: string) => `${pod}.${PROFILE.service}`;

/** The images of the current mode (air-gapped builds, or LAB_IMAGES=stock). */
export const clusterImages = () =>
  chooseImages(process.env, parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8')));

export interface WorkloadOptions {
  /** Another StatefulSet beside the profile's: its own name and labels, so neither adopts the other's
   * pods and the Service still selects only the profile's. */
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

/** The StatefulSet's server container (the profile's `container`). */
export const serverContainer = (sts: V1StatefulSet) =>
  sts.spec!.template.spec!.containers.find((c) => c.name === PROFILE.container)!;

const onHosts = (values: string[]) => ({
  matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values }],
});

/** The profile's objects in `namespace`, its StatefulSet shaped by `options`. */
export function renderWorkload(namespace: string, options: WorkloadOptions = {}) {
  const objects = structuredClone(PROFILE.objects);
  for (const o of objects) o.metadata = { ...o.metadata, namespace };
  const statefulSet = objects.find((o) => o.kind === 'StatefulSet') as V1StatefulSet;
  const spec = statefulSet.spec!;
  const pod = spec.template.spec!;
  const { name, replicas, podManagementPolicy, storageClass, tolerationSeconds, nodeNames, preferNode } =
    options;
  if (name) {
    statefulSet.metadata!.name = name;
    spec.selector = { matchLabels: { app: name } };
    spec.template.metadata = { labels: { app: name } };
  }
  // LAB_WORKLOAD_IMAGE, else the profile's for the mode (the seed's: LAB_MYSQL_IMAGE), else the manifest's.
  const images = clusterImages();
  const image = process.env.LAB_WORKLOAD_IMAGE || (SEED ? images.mysql : PROFILE.image?.[images.mode]);
  if (image) serverContainer(statefulSet).image = image;
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
  return { objects, statefulSet };
}

/** The same pod template run by a Deployment: the contrast the seed draws (hashed names, no per-pod volume). */
export function deploymentOf(statefulSet: V1StatefulSet, name: string): V1Deployment {
  const template = structuredClone(statefulSet.spec!.template);
  const labels = { app: name };
  template.metadata = { labels };
  // A Deployment has no volumeClaimTemplates: the pods share nothing per pod, so give them an emptyDir.
  template.spec!.volumes = [...(template.spec!.volumes ?? []), { name: PROFILE.claimTemplate, emptyDir: {} }];
  const metadata = { name, namespace: statefulSet.metadata!.namespace };
  const spec = { replicas: statefulSet.spec!.replicas, selector: { matchLabels: labels }, template };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec };
}

/** The profile's objects, as a plan names them (`--plan`). */
const OTHERS = PROFILE.objects.filter((o) => o.kind !== 'StatefulSet' && o.kind !== 'Service');
export const WORKLOAD_OBJECTS = (replicas: number) =>
  `${SEED ? 'the seed' : `profile ${PROFILE.name}`}: StatefulSet ${STS} (${replicas} replica${replicas > 1 ? 's' : ''}), headless Service ${PROFILE.service}, PVCs ${claimOf(`${STS}-<n>`)}${OTHERS.map((o) => `, ${o.kind} ${o.metadata?.name}`).join('')}`;
export const CLIENT_POD = `pod client (dig; the workload's image for its marker)`;
/** What the steps call the StatefulSet they deploy. */
export const THE_STS = SEED ? 'the seed StatefulSet' : `the ${PROFILE.name} profile's StatefulSet`;
