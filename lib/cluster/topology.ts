// The lab cluster's shape as kind names it (manifests/kind-cluster.yaml): one control plane and
// three workers. Behaviours and tests name nodes by role through these, never by literal.
import { CLUSTER_NAME } from './paths.ts';

export const CONTROL_PLANE = `${CLUSTER_NAME}-control-plane`;
/** worker(1) is `statefulset-lab-worker`, worker(2) `…-worker2`, as kind numbers them. */
export const worker = (n: 1 | 2 | 3) => `${CLUSTER_NAME}-worker${n === 1 ? '' : n}`;
export const WORKERS = [worker(1), worker(2), worker(3)] as const;
