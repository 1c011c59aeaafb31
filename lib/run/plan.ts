// What runs would do, said before anything is done (`--plan`): the target and its consent, how node
// faults are injected and undone, and per behaviour the objects it creates and the faults it
// injects. Making the plan reads at most the consent object; it writes nothing.
import type { Behaviour } from '../behaviour/model.ts';
import type { Consent } from '../cluster/consent.ts';
import { AGENT_NAMESPACE, CUT_TABLE, unitOf } from '../cluster/node-agent.ts';
import { NAMESPACE_LABEL } from '../cluster/paths.ts';
import type { Target } from '../cluster/target.ts';
import type { Profile } from '../workload/profile.ts';

export interface PlanInput {
  target: Target;
  consent?: Consent;
  provider: 'docker' | 'api';
  profile: Pick<Profile, 'name' | 'file' | 'description'>;
  behaviours: Behaviour[];
}

/** Every fault a run injected that its behaviour's plan does not name (by its leading words). */
export function unplanned(b: Behaviour, injected: ReadonlyArray<{ what: string }>): string[] {
  const named = b.plan.faults;
  return injected.map((f) => f.what).filter((what) => !named.some((n) => what.startsWith(n)));
}

export function planLines({ target, consent, provider, profile, behaviours }: PlanInput): string[] {
  const lines = [
    `target: context ${target.context} (${target.kubeconfig})${target.foreign ? '' : ', the lab cluster this cache created'}`,
  ];
  if (consent)
    lines.push(
      `consent: may fault ${consent.nodes.join(', ') || 'no node'}; may create its namespaces${consent.expires ? `; until ${consent.expires}` : ''}`,
    );
  lines.push(
    provider === 'api'
      ? `node faults: through the API. Namespace ${AGENT_NAMESPACE} (ServiceAccount node-agent, a Role that may only get ConfigMaps there); per fault a ConfigMap fault-<id> (its deadline) and a privileged pod arm-<id> on the node, which starts the systemd unit ${unitOf('<id>')} there. A stop halts kubelet, kills the pods and stops containerd, held by this process (the node restarts them within one hold if it dies); a cut drops the node's traffic on its node interface (nft table ${CUT_TABLE}) until a planned deadline. Both end on the node itself.`
      : 'node faults: through the kind node containers (docker stop/start, network disconnect/connect), undone by this process or its journal at the next start',
    'every fault and namespace is journaled before it is made and undone at the end, on Ctrl-C, or at the next start',
    `workload: profile ${profile.name} (${profile.description}; ${profile.file})`,
  );
  for (const b of behaviours) {
    lines.push('', `${b.name}: ${b.title}`);
    if (b.notApplicable) {
      lines.push(
        `  not applicable to profile ${profile.name}: ${b.notApplicable}; creates and injects nothing`,
      );
      continue;
    }
    lines.push(
      `  creates namespace lab-${b.name}-<4 hex> (label ${NAMESPACE_LABEL}), deleted at the end; in it:`,
    );
    for (const c of b.plan.creates) lines.push(`    ${c}`);
    const faults = b.plan.faults;
    lines.push(faults.length ? '  injects:' : '  injects no fault');
    for (const f of faults) lines.push(`    ${f}`);
  }
  return lines;
}
