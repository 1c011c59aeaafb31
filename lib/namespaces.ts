// One labelled namespace per scenario run, deleted afterwards; namespaces a crashed run left behind
// are found by their label and swept at the next start.
import { randomBytes } from 'node:crypto';
import type { Kube } from './kube.ts';
import { NAMESPACE_LABEL } from './paths.ts';

export const RUN_ID = `${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${randomBytes(2).toString('hex')}`;

export async function createScenarioNamespace(kube: Kube, scenario: string): Promise<string> {
  const name = `lab-${scenario}-${randomBytes(2).toString('hex')}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  await kube.core.createNamespace({
    body: { metadata: { name, labels: { [NAMESPACE_LABEL]: RUN_ID, 'statefulset-lab/scenario': scenario } } },
  });
  return name;
}

export async function deleteNamespace(kube: Kube, name: string): Promise<void> {
  await kube.core.deleteNamespace({ name }).catch((err: { code?: number }) => {
    if (err.code !== 404) throw err;
  });
}

/** Deletes the lab's namespaces from earlier runs. Returns their names. */
export async function sweepStaleNamespaces(kube: Kube): Promise<string[]> {
  const list = await kube.core.listNamespace({
    labelSelector: `${NAMESPACE_LABEL},${NAMESPACE_LABEL}!=${RUN_ID}`,
  });
  const stale = list.items.filter((ns) => !ns.metadata?.deletionTimestamp).map((ns) => ns.metadata!.name!);
  for (const name of stale) await deleteNamespace(kube, name);
  return stale;
}
