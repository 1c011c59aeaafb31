// Lab ordinals (seed §2 f): the ordinal orders everything. OrderedReady creates 0,1,2, each after the
// previous is Ready; a rolling update goes from the highest ordinal down and stops at `partition`;
// scale-down removes the highest ordinal first, one at a time. Contrast: Parallel creates all at
// once. Every order is read from watch events recorded from before the action.
import type { V1Pod } from '@kubernetes/client-node';
import {
  creations,
  deletions,
  eachAfter,
  orderedBy,
  readyTransitions,
  type PodMoment,
} from '../../lib/observe/evidence.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { step, type LabContext, type LabDefinition } from '../../lib/lab/model.ts';
import type { RecordedEvent } from '../../lib/observe/recorder.ts';
import { holds, until } from '../../lib/observe/waits.ts';
import { createAll, waiting } from '../../lib/run/context.ts';
import { scale, scaleDown, setPartition, startRollout } from '../../behaviours/support/scale.ts';
import { renderSeed } from '../../behaviours/support/seed.ts';
import { deploySeed, judge, MYSQL_START_BOUND, short } from '../../behaviours/support/lab-rows.ts';

const STS = 'mysql';
const PARALLEL = 'mysql-parallel';
const WORKERS = ['statefulset-lab-worker', 'statefulset-lab-worker2'];
const REVISION = 'controller-revision-hash';
/** After mysql-1 is updated, how long mysql-0 (below the partition) must stay untouched: the
 * controller answers a pod's Ready within a second, so a rollout that ignored the partition would
 * delete mysql-0 well inside this window. */
const PARTITION_WINDOW = 5;

const ofSet = (sts: string) => new RegExp(`^${sts}-\\d+$`);
const isOf = (sts: string, name: string | undefined) => !!name && ofSet(sts).test(name);

function pods(ctx: LabContext, sts = STS): V1Pod[] {
  return ctx.rec
    .objects<V1Pod>('pods')
    .filter((p) => isOf(sts, p.metadata?.name))
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
}

const readyPods = (ctx: LabContext, sts = STS) =>
  pods(ctx, sts).filter((p) => !p.metadata?.deletionTimestamp && isPodReady(p));

/** Waits until exactly `count` pods of the set exist, all Ready and none terminating. */
async function settled(ctx: LabContext, count: number, bound: number, why: string, sts = STS) {
  await waiting(
    ctx,
    until(ctx.rec, () => readyPods(ctx, sts).length === count && pods(ctx, sts).length === count, {
      timeout: bound,
      why: `${count} ${sts} pods Ready (${why})`,
    }),
  );
}

/** The first moment each pod (name + uid) got a deletionTimestamp: the start of its removal. */
function terminations(events: RecordedEvent[], since: number): PodMoment[] {
  const out: PodMoment[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    if (e.resource !== 'pods' || e.type !== 'MODIFIED' || e.at < since || seen.has(e.uid)) continue;
    if (!(e.object as V1Pod).metadata?.deletionTimestamp) continue;
    seen.add(e.uid);
    out.push({ name: e.name, uid: e.uid, at: e.at, resourceVersion: e.resourceVersion });
  }
  return out;
}

/** Seconds since the action, to 10 ms: consecutive events are often within the same 0.1 s. */
const rel = (t0: number, t: number) => `+${((t - t0) / 1000).toFixed(2)}s`;

/**
 * Watch events as a timeline: when, what happened, to which pod. Events received in the same
 * millisecond keep the API server's order (resourceVersion, which etcd hands out increasing).
 */
function timeline(t0: number, moments: Array<[string, PodMoment | undefined]>) {
  return moments
    .filter((m): m is [string, PodMoment] => !!m[1])
    .sort((a, b) => a[1].at - b[1].at || Number(a[1].resourceVersion) - Number(b[1].resourceVersion))
    .map(([event, m]) => ({
      at: rel(t0, m.at),
      event,
      pod: m.name,
      uid: short(m.uid),
      resourceVersion: m.resourceVersion,
    }));
}

/** Milliseconds from one event to a later one. */
const gapMs = (later: PodMoment | undefined, earlier: PodMoment | undefined) =>
  later && earlier ? Math.round(later.at - earlier.at) : '-';

export const ordinals: LabDefinition = {
  name: 'ordinals',
  steps() {
    let oldRevision = '';
    let newRevision = '';
    const revisionOf = (p: V1Pod | undefined) => p?.metadata?.labels?.[REVISION] ?? '-';
    const revisionRows = (ctx: LabContext) =>
      pods(ctx).map((p) => ({
        pod: p.metadata!.name,
        uid: short(p.metadata!.uid),
        revision: revisionOf(p),
        updated: revisionOf(p) === newRevision,
      }));
    return [
      step({
        id: 'scale-up',
        async action(ctx) {
          await deploySeed(ctx, { replicas: 0, nodeNames: WORKERS });
          const t0 = await scale(ctx, STS, 3);
          await settled(
            ctx,
            3,
            3 * MYSQL_START_BOUND,
            `bound 3 × ${MYSQL_START_BOUND} s: one MySQL first start after another`,
          );
          const added = creations(ctx.rec.events, t0).filter((m) => isOf(STS, m.name));
          const ready = readyTransitions(ctx.rec.events, t0).filter((m) => isOf(STS, m.name));
          const readyOf = (n: string) => ready.find((r) => r.name === n);
          const addedOf = (n: string) => added.find((r) => r.name === n);
          return {
            tables: [
              {
                title: 'watch events, scale 0 → 3',
                rows: timeline(t0, [
                  ...added.map((m): [string, PodMoment] => ['ADDED', m]),
                  ...ready.map((m): [string, PodMoment] => ['Ready', m]),
                ]),
              },
            ],
            added,
            readyOf,
            vars: {
              order: added.map((m) => m.name).join(', '),
              gap1: gapMs(addedOf('mysql-1'), readyOf('mysql-0')),
              gap2: gapMs(addedOf('mysql-2'), readyOf('mysql-1')),
            },
          };
        },
        check: ({ added, readyOf }) =>
          judge(() => {
            orderedBy([0, 1, 2], added, 'creation order');
            eachAfter([
              {
                label: 'mysql-1 ADDED',
                start: added[1]!.at,
                previousDone: readyOf('mysql-0')?.at ?? Infinity,
              },
              {
                label: 'mysql-2 ADDED',
                start: added[2]!.at,
                previousDone: readyOf('mysql-1')?.at ?? Infinity,
              },
            ]);
          }),
      }),
      step({
        id: 'update-partition',
        async action(ctx) {
          const sts = await ctx.kube.apps.readNamespacedStatefulSet({ namespace: ctx.ns, name: STS });
          oldRevision = sts.status?.currentRevision ?? '';
          const before = new Set(pods(ctx).map((p) => p.metadata!.uid!));
          const keptUid = pods(ctx).find((p) => p.metadata?.name === 'mysql-0')!.metadata!.uid!;
          const fresh = (since: number) =>
            readyTransitions(ctx.rec.events, since, before).filter((m) => isOf(STS, m.name));
          const t0 = Date.now();
          await startRollout(ctx, STS, 1);
          await waiting(
            ctx,
            until(
              ctx.rec,
              () => {
                const names = fresh(t0).map((m) => m.name);
                return names.includes('mysql-2') && names.includes('mysql-1') && readyPods(ctx).length === 3;
              },
              {
                timeout: 2 * MYSQL_START_BOUND,
                why: `mysql-2 then mysql-1 recreated and Ready (bound 2 × ${MYSQL_START_BOUND} s)`,
              },
            ),
          );
          // Had the controller ignored the partition, it would now go on to mysql-0.
          const untouched = await waiting(
            ctx,
            holds(
              ctx.rec,
              () => {
                const p = pods(ctx).find((q) => q.metadata?.name === 'mysql-0');
                return p?.metadata?.uid === keptUid && !p.metadata.deletionTimestamp
                  ? undefined
                  : 'mysql-0 is being replaced';
              },
              {
                seconds: PARTITION_WINDOW,
                why: 'mysql-0 stays on the old revision below partition=1',
              },
            ).then(
              () => true,
              () => false,
            ),
          );
          const now = await ctx.kube.apps.readNamespacedStatefulSet({ namespace: ctx.ns, name: STS });
          newRevision = now.status?.updateRevision ?? '';
          const removed = terminations(ctx.rec.events, t0).filter((m) => isOf(STS, m.name));
          const ready = fresh(t0);
          const rev = (n: string) => revisionOf(pods(ctx).find((p) => p.metadata?.name === n));
          return {
            tables: [
              {
                title: 'watch events, partition=1',
                rows: timeline(t0, [
                  ...removed.map((m): [string, PodMoment] => ['Terminating', m]),
                  ...ready.map((m): [string, PodMoment] => ['Ready (new)', m]),
                ]),
              },
              { title: `revisions (old ${oldRevision}, new ${newRevision})`, rows: revisionRows(ctx) },
            ],
            removed,
            ready,
            untouched,
            revisions: { 0: rev('mysql-0'), 1: rev('mysql-1'), 2: rev('mysql-2') },
            vars: {
              order: removed.map((m) => m.name).join(', '),
              window: PARTITION_WINDOW,
            },
          };
        },
        check: ({ removed, ready, untouched, revisions }) =>
          judge(() => {
            orderedBy([2, 1], removed, 'update order (pods replaced)');
            eachAfter([
              {
                label: 'mysql-1 replaced',
                start: removed[1]!.at,
                previousDone: ready.find((m) => m.name === 'mysql-2')?.at ?? Infinity,
              },
            ]);
            if (!untouched) throw new Error('mysql-0 was replaced although partition=1');
            if (revisions[0] !== oldRevision || revisions[1] !== newRevision || revisions[2] !== newRevision)
              throw new Error(
                `revisions: mysql-0 ${revisions[0]}, mysql-1 ${revisions[1]}, mysql-2 ${revisions[2]} (old ${oldRevision}, new ${newRevision})`,
              );
          }),
      }),
      step({
        id: 'update-rest',
        async action(ctx) {
          const before = new Set(pods(ctx).map((p) => p.metadata!.uid!));
          const t0 = Date.now();
          await setPartition(ctx, STS, 0);
          await waiting(
            ctx,
            until(
              ctx.rec,
              () =>
                readyTransitions(ctx.rec.events, t0, before).some((m) => m.name === 'mysql-0') &&
                readyPods(ctx).length === 3,
              { timeout: MYSQL_START_BOUND, why: `mysql-0 updated and Ready (bound ${MYSQL_START_BOUND} s)` },
            ),
          );
          const removed = terminations(ctx.rec.events, t0).filter((m) => isOf(STS, m.name));
          const ready = readyTransitions(ctx.rec.events, t0, before).filter((m) => isOf(STS, m.name));
          const revisions = pods(ctx).map(revisionOf);
          return {
            tables: [
              {
                title: 'watch events, partition=0',
                rows: timeline(t0, [
                  ...removed.map((m): [string, PodMoment] => ['Terminating', m]),
                  ...ready.map((m): [string, PodMoment] => ['Ready (new)', m]),
                ]),
              },
              { title: `revisions (new ${newRevision})`, rows: revisionRows(ctx) },
            ],
            removed,
            revisions,
            vars: { order: removed.map((m) => m.name).join(', ') || 'none' },
          };
        },
        check: ({ removed, revisions }) =>
          judge(() => {
            orderedBy([0], removed, 'update order after partition=0');
            if (revisions.length !== 3 || revisions.some((r) => r !== newRevision))
              throw new Error(`revisions ${revisions.join(', ')}, expected all ${newRevision}`);
          }),
      }),
      step({
        id: 'scale-down',
        async action(ctx) {
          const sts = await ctx.kube.apps.readNamespacedStatefulSet({ namespace: ctx.ns, name: STS });
          const { at: t0 } = await scaleDown(ctx, sts, 1);
          const removing = terminations(ctx.rec.events, t0).filter((m) => isOf(STS, m.name));
          const gone = deletions(ctx.rec.events, t0).filter((m) => isOf(STS, m.name));
          return {
            tables: [
              {
                title: 'watch events, scale 3 → 1',
                rows: timeline(t0, [
                  ...removing.map((m): [string, PodMoment] => ['Terminating', m]),
                  ...gone.map((m): [string, PodMoment] => ['DELETED', m]),
                ]),
              },
            ],
            removing,
            gone,
            vars: {
              order: gone.map((m) => m.name).join(', ') || 'none',
              gap: gapMs(
                removing.find((m) => m.name === 'mysql-1'),
                gone.find((m) => m.name === 'mysql-2'),
              ),
            },
          };
        },
        check: ({ removing, gone }) =>
          judge(() => {
            orderedBy([2, 1], gone, 'deletion order');
            orderedBy([2, 1], removing, 'termination order');
            eachAfter([
              {
                label: 'mysql-1 Terminating',
                start: removing[1]!.at,
                previousDone: gone[0]!.at,
              },
            ]);
          }),
      }),
      step({
        id: 'parallel',
        async action(ctx) {
          const sts = renderSeed(ctx.ns, {
            replicas: 3,
            podManagementPolicy: 'Parallel',
            nodeNames: WORKERS,
          }).statefulSet;
          // A second StatefulSet beside the first: its own name and labels, so neither adopts the
          // other's pods and the headless Service keeps selecting only mysql-N.
          const labels = { app: PARALLEL };
          sts.metadata = { ...sts.metadata, name: PARALLEL };
          sts.spec!.selector = { matchLabels: labels };
          sts.spec!.template.metadata = { ...sts.spec!.template.metadata, labels };
          const t0 = Date.now();
          await createAll(ctx, [sts]);
          await settled(
            ctx,
            3,
            2 * MYSQL_START_BOUND,
            `bound 2 × ${MYSQL_START_BOUND} s: three MySQL first starts side by side`,
            PARALLEL,
          );
          const added = creations(ctx.rec.events, t0).filter((m) => isOf(PARALLEL, m.name));
          const ready = readyTransitions(ctx.rec.events, t0).filter((m) => isOf(PARALLEL, m.name));
          const lastAdded = added.length ? Math.max(...added.map((m) => m.at)) : Infinity;
          const firstReady = ready[0];
          return {
            tables: [
              {
                title: `watch events, ${PARALLEL} (Parallel) created with 3 replicas`,
                rows: timeline(t0, [
                  ...added.map((m): [string, PodMoment] => ['ADDED', m]),
                  ...ready.map((m): [string, PodMoment] => ['Ready', m]),
                ]),
              },
            ],
            added,
            lastAdded,
            firstReady,
            vars: {
              spread: added.length ? Math.round(lastAdded - Math.min(...added.map((m) => m.at))) : '-',
              first: firstReady ? firstReady.name : '-',
              firstAt: firstReady ? rel(t0, firstReady.at) : '-',
            },
          };
        },
        check: ({ added, lastAdded, firstReady }) =>
          judge(() => {
            if (added.length !== 3) throw new Error(`${added.length} pods ADDED, expected 3`);
            if (!firstReady || lastAdded >= firstReady.at)
              throw new Error('a pod was created only after another one was Ready');
          }),
      }),
    ];
  },
};
