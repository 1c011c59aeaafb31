// Which cluster the harness acts on. By default the lab's own kind cluster (its kubeconfig in the
// lab cache). LAB_CLUSTER=<context> points it at a cluster of the user's, from LAB_KUBECONFIG (or
// KUBECONFIG, or ~/.kube/config): the harness then acts there only with that cluster's consent.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KUBECONFIG_PATH, KUBE_CONTEXT } from './paths.ts';

export interface Target {
  context: string;
  kubeconfig: string;
  /** Not the lab's kind cluster: consent is required, and only the API-only node faults apply. */
  foreign: boolean;
}

export function targetOf(env: NodeJS.ProcessEnv = process.env): Target {
  const context = env.LAB_CLUSTER?.trim();
  if (!context || context === KUBE_CONTEXT)
    return { context: KUBE_CONTEXT, kubeconfig: KUBECONFIG_PATH, foreign: false };
  const kubeconfig =
    env.LAB_KUBECONFIG ?? env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config');
  return { context, kubeconfig, foreign: true };
}

export const TARGET = targetOf();
