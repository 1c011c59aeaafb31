// One labelled namespace per scenario run, deleted afterwards; namespaces a crashed run left behind
// are found by their label and swept at the next start. A namespace names the process that made
// it, so a sweep never deletes the namespace of a run that is still going on this machine. Its
// deletion is journaled like a fault's undo, so Ctrl-C (undoOnExit) removes it too.
import { randomBytes } from 'node:crypto';
import type { V1Namespace } from '@kubernetes/client-node';
import type { Kube } from '../cluster/kube.ts';
import { processAlive } from '../cluster/lock.ts';
import { journaled, type UndoDeps } from '../faults/journal.ts';
import { NAMESPACE_LABEL, RUN_ID } from '../cluster/paths.ts';

export const SCENARIO_LABEL = 'statefulset-lab/scenario';
/** Annotation: pid of the process that created the namespace. */
export const PID_ANNOTATION = 'statefulset-lab/pid';

const journaledDeletes = new Map<string, () => Promise<void>>();

export async function createScenarioNamespace(
  kube: Kube,
  scenario: string,
  deps: Pick<UndoDeps, 'journalPath'> = {},
): Promise<string> {
  const name = `lab-${scenario}-${randomBytes(2).toString('hex')}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const undo = await journaled(
    `create namespace ${name}`,
    { action: 'delete-namespace', namespace: name },
    () =>
      kube.core.createNamespace({
        body: {
          metadata: {
            name,
            labels: { [NAMESPACE_LABEL]: RUN_ID, [SCENARIO_LABEL]: scenario },
            annotations: { [PID_ANNOTATION]: String(process.pid) },
          },
        },
      }),
    { kube, ...deps },
  );
  journaledDeletes.set(name, undo);
  return name;
}

/** Deletes a namespace (not waiting for it to be gone); marks its journal entry done if it has one. */
export async function deleteNamespace(kube: Kube, name: string): Promise<void> {
  const undo = journaledDeletes.get(name);
  if (undo) {
    await undo();
    journaledDeletes.delete(name);
    return;
  }
  await kube.core.deleteNamespace({ name }).catch((err: { code?: number }) => {
    if (err.code !== 404) throw err;
  });
}

/** `--keep` on the command line or LAB_KEEP=1: leave scenario namespaces for inspection. */
export function keepNamespaces(argv = process.argv, env = process.env): boolean {
  return argv.includes('--keep') || env.LAB_KEEP === '1';
}

/** A lab namespace is stale when its run is over: another run id and no live creator process. */
export function isStale(ns: V1Namespace, alive: (pid: number) => boolean = processAlive): boolean {
  const meta = ns.metadata ?? {};
  if (meta.deletionTimestamp) return false; // already going
  if (meta.labels?.[NAMESPACE_LABEL] === RUN_ID) return false;
  const pid = Number(meta.annotations?.[PID_ANNOTATION]);
  return !(Number.isInteger(pid) && pid > 0 && alive(pid));
}

/** Deletes the lab's namespaces left by runs that are over (optionally of one scenario). Returns their names. */
export async function sweepStaleNamespaces(kube: Kube, scenario?: string): Promise<string[]> {
  const list = await kube.core.listNamespace({
    labelSelector: scenario ? `${NAMESPACE_LABEL},${SCENARIO_LABEL}=${scenario}` : NAMESPACE_LABEL,
  });
  const stale = list.items.filter((ns) => isStale(ns)).map((ns) => ns.metadata!.name!);
  for (const name of stale) await deleteNamespace(kube, name);
  return stale;
}
