// The one way the harness shells out to kubectl: always the target's own kubeconfig and context
// (the lab's, or LAB_CLUSTER's), never the user's current one; connect() has proven ownership or consent.
import { $ } from 'zx';
import { TARGET } from './target.ts';

export function kubectl(args: string[]) {
  return $`kubectl --kubeconfig ${TARGET.kubeconfig} --context ${TARGET.context} ${args}`.quiet();
}
