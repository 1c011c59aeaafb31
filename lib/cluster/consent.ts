// A cluster that is not the lab's own is acted on only with its consent: a ConfigMap its owner
// created, naming the nodes that may be faulted and allowing the harness its own namespaces.
// Without it (or past its expiry) the harness refuses before its first write.
import type { V1ConfigMap } from '@kubernetes/client-node';

export const CONSENT_CONFIGMAP = { namespace: 'kube-system', name: 'statefulset-lab-consent' };

export interface Consent {
  /** Nodes that may be stopped, cut off, deleted or tainted. */
  nodes: string[];
  /** Whether the harness may create its labelled namespaces (every run needs one). */
  namespaces: boolean;
  expires?: string;
}

export class ConsentError extends Error {
  override name = 'ConsentError';
}

/** The command that grants consent, to quote in a refusal. */
export const grantCommand = (context: string, nodes = '<node>,<node>') =>
  `kubectl --context ${context} -n ${CONSENT_CONFIGMAP.namespace} create configmap ${CONSENT_CONFIGMAP.name} --from-literal=nodes=${nodes} --from-literal=namespaces=create`;

/** Reads the consent ConfigMap's data; throws with what to do when it does not allow a run. */
export function consentOf(cm: V1ConfigMap | undefined, context: string, now = Date.now()): Consent {
  const where = `${CONSENT_CONFIGMAP.namespace}/${CONSENT_CONFIGMAP.name}`;
  if (!cm) {
    throw new ConsentError(
      `context ${context} has no consent object (${where}): the harness acts on a cluster that is not the lab's only when its owner allows it. To allow it, run: ${grantCommand(context)}`,
    );
  }
  const data = cm.data ?? {};
  const consent: Consent = {
    nodes: (data.nodes ?? '').split(/[\s,]+/).filter(Boolean),
    namespaces: data.namespaces === 'create',
    ...(data.expires ? { expires: data.expires } : {}),
  };
  if (consent.expires && !(Date.parse(consent.expires) > now)) {
    throw new ConsentError(
      `the consent in ${where} on ${context} expired at ${consent.expires}: renew it (kubectl -n ${CONSENT_CONFIGMAP.namespace} edit configmap ${CONSENT_CONFIGMAP.name})`,
    );
  }
  if (!consent.namespaces) {
    throw new ConsentError(
      `the consent in ${where} on ${context} does not allow the harness its namespaces (namespaces: ${data.namespaces ?? 'unset'}); every run needs one: set namespaces=create`,
    );
  }
  return consent;
}

/** Refuses a node fault the consent does not name. */
export function assertConsented(consent: Consent | undefined, node: string): void {
  if (consent && !consent.nodes.includes(node)) {
    throw new ConsentError(
      `refusing to fault ${node}: the cluster's consent (${CONSENT_CONFIGMAP.namespace}/${CONSENT_CONFIGMAP.name}) names only ${consent.nodes.join(', ') || 'no node'}; add it to data.nodes to allow it`,
    );
  }
}
