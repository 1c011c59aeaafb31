// Opens and closes what a lab stands on, the way a scenario's hooks do: repair what a dead run left,
// sweep its namespaces, a fresh labelled namespace, a recorder from before the first action, faults
// with journaled undo. Closing undoes the faults and waits until the namespace is really gone.
import { connect } from '../cluster/kube.ts';
import { Faults } from '../faults/faults.ts';
import { replayPending, undoOnExit } from '../faults/journal.ts';
import { createScenarioNamespace, deleteNamespace, sweepStaleNamespaces } from '../cluster/namespaces.ts';
import { clusterResources, namespacedResources, Recorder, type ResourceSpec } from '../observe/recorder.ts';
import { deriveBounds, readLiveSettings } from '../cluster/settings.ts';
import { until } from '../observe/waits.ts';
import type { LabContext } from './model.ts';
import type { Lang } from './text.ts';

const NAMESPACES: ResourceSpec = {
  resource: 'namespaces',
  apiVersion: 'v1',
  kind: 'Namespace',
  path: '/api/v1/namespaces',
};
/** Deleting a lab namespace: MySQL's graceful stop (≤ 30 s) and the volumes' clean-up, with room. */
export const NAMESPACE_GONE_BOUND = 180;

export interface SessionNotes {
  repaired: string[];
  swept: string[];
}

export async function openSession(
  lab: string,
  lang: Lang,
  say: LabContext['say'],
): Promise<{ ctx: LabContext; notes: SessionNotes }> {
  // Ctrl-C, SIGTERM or a crash: undo this process's journaled faults and delete its namespace.
  undoOnExit();
  const kube = await connect();
  const repaired = await replayPending({ kube });
  const swept = await sweepStaleNamespaces(kube);
  const ns = await createScenarioNamespace(kube, `workshop-${lab}`);
  const rec = await new Recorder(kube, [...namespacedResources(ns), ...clusterResources, NAMESPACES]).start();
  const settings = await readLiveSettings(kube);
  const ctx: LabContext = {
    name: lab,
    kube,
    ns,
    rec,
    faults: new Faults(kube),
    settings,
    bounds: deriveBounds(settings),
    involvedNodes: new Set(),
    waited: 0,
    lang,
    say,
  };
  return { ctx, notes: { repaired, swept } };
}

/** Undoes every fault, deletes the namespace and waits until it is gone. Returns the seconds it took. */
export async function closeSession(ctx: LabContext): Promise<number> {
  const t0 = performance.now();
  const errors: unknown[] = [];
  await ctx.faults.undoAll().catch((e) => errors.push(e));
  try {
    await deleteNamespace(ctx.kube, ctx.ns);
    await until(ctx.rec, () => !ctx.rec.get('namespaces', ctx.ns), {
      timeout: NAMESPACE_GONE_BOUND,
      why: `namespace ${ctx.ns} gone (bound ${NAMESPACE_GONE_BOUND}s: MySQL's graceful stop and volume clean-up)`,
    });
  } catch (e) {
    errors.push(e);
  }
  ctx.rec.stop();
  if (errors.length) throw new Error(`clean-up of ${ctx.ns} failed: ${errors.map(String).join('; ')}`);
  return (performance.now() - t0) / 1000;
}
