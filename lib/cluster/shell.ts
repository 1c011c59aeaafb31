// The one way the harness shells out to kubectl: always the lab's own kubeconfig and context, never
// the user's current one (connect() has proven that cluster is ours).
import { $ } from 'zx';
import { KUBECONFIG_PATH, KUBE_CONTEXT } from './paths.ts';

export function kubectl(args: string[]) {
  return $`kubectl --kubeconfig ${KUBECONFIG_PATH} --context ${KUBE_CONTEXT} ${args}`.quiet();
}
