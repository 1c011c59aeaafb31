// (f) Ordinals order everything: with the default OrderedReady policy pods are created 0,1,2, each
// only after the previous one is Ready; a rolling update goes from the highest ordinal down, each
// pod only after the previous replacement is Ready, and stops at `partition`; scale-down removes
// the highest ordinal first, one at a time. Contrast: the Parallel policy creates all at once.
// Every order is read from pod events seen on the live watch from before the action, never from
// snapshots or from a re-list.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { worker } from '../lib/cluster/topology.ts';
import { eachAfter, orderedBy, type PodMoment } from '../lib/observe/evidence.ts';
import { phase } from '../lib/run/console.ts';
import { createAll, type RunContext } from '../lib/run/run.ts';
import { deploySeed, uidPrefix } from './support/pods.ts';
import {
  eventTable,
  onLiveWatch,
  podsOf,
  rollout,
  scale,
  setPartition,
  settled,
  startRollout,
  untouched,
  watched,
  type Watched,
} from './support/scale.ts';
import { renderSeed } from './support/seed.ts';
import { times } from '../lib/cluster/settings.ts';

const STS = 'mysql';
const PARALLEL = 'mysql-parallel';
const SEED = { replicas: 0, nodeNames: [worker(1), worker(2)] };

const names = (sts: string, ordinals: number[]) => ordinals.map((i) => `${sts}-${i}`);
const named = (ms: PodMoment[], name: string) => ms.find((m) => m.name === name);
const orderOf = (ms: PodMoment[]) => ms.map((m) => m.name).join(', ') || 'none';
const gapMs = (later?: PodMoment, earlier?: PodMoment) =>
  later && earlier ? Math.round(later.at - earlier.at) : '-';
const revisionOf = (p: V1Pod) => p.metadata?.labels?.['controller-revision-hash'] ?? '-';
const revisions = (ctx: RunContext) =>
  Object.fromEntries(podsOf(ctx, STS).map((p) => [p.metadata!.name!, revisionOf(p)]));
const readRevisions = async (ctx: RunContext) =>
  (await ctx.kube.apps.readNamespacedStatefulSet({ namespace: ctx.ns, name: STS })).status;

/** Pods replaced by a rollout step: marked for deletion, gone, and their replacements Ready. */
const replacedTable = (w: Watched, expected: string[]) =>
  eventTable(`watch events, ${expected.join(', ')} replaced`, w, ['removing', 'gone', 'ready'], expected);

export const ordinals: Behaviour = {
  name: 'ordinals',
  title: 'creation, scale-down and rolling updates follow the ordinal',
  steps() {
    let newRevision = '';
    let rolloutAt = 0;
    const revisionTable = (ctx: RunContext, title: string) => ({
      title,
      rows: podsOf(ctx, STS).map((p) => ({
        pod: p.metadata!.name,
        uid: uidPrefix(p.metadata!.uid),
        revision: revisionOf(p),
        updated: revisionOf(p) === newRevision,
      })),
    });

    return [
      step({
        id: 'scale-up',
        title: 'scale 0→3: ADDED 0,1,2, each after the previous became Ready',
        async act(ctx) {
          phase('create the seed StatefulSet with 0 replicas (OrderedReady, the default)');
          await deploySeed(ctx, SEED);
          phase('scale to 3  ≙ kubectl scale sts mysql --replicas=3');
          const t0 = await scale(ctx, STS, 3);
          await settled(ctx, STS, 3, times(3, ctx.bounds.mysqlStart), 'one MySQL first start after another');
          const w = watched(ctx, STS, t0);
          return {
            tables: [eventTable('watch events, scale 0 → 3', w, ['added', 'ready'], names(STS, [0, 1, 2]))],
            w,
            vars: {
              order: orderOf(w.added),
              gap1: gapMs(named(w.added, 'mysql-1'), named(w.ready, 'mysql-0')),
              gap2: gapMs(named(w.added, 'mysql-2'), named(w.ready, 'mysql-1')),
            },
          };
        },
        judge({ w }) {
          onLiveWatch(w);
          orderedBy([0, 1, 2], w.added, 'creation order');
          eachAfter(
            [1, 2].map((i) => ({
              label: `mysql-${i} ADDED`,
              start: w.added[i]!.at,
              previousDone: named(w.ready, `mysql-${i - 1}`)?.at ?? Infinity,
            })),
          );
        },
      }),
      step({
        id: 'update-partition',
        title: 'rolling update, partition=1: mysql-2 then mysql-1 (after the new mysql-2 Ready), not mysql-0',
        async act(ctx) {
          const oldRevision = (await readRevisions(ctx))?.currentRevision ?? '';
          const kept = podsOf(ctx, STS).find((p) => p.metadata?.name === 'mysql-0')!.metadata!.uid!;
          phase('new pod template, partition=1  ≙ kubectl patch sts mysql (rollingUpdate.partition: 1)');
          const { t0, before } = await rollout(ctx, STS, 3, () => startRollout(ctx, STS, 1), [2, 1]);
          rolloutAt = t0;
          // Ignoring the partition, the controller would go on to mysql-0 in reaction to the new
          // mysql-1's Ready, as it went on to mysql-1 after the new mysql-2's: watch mysql-0 for
          // five times that reaction as seen here (at least 5 s, at most controllerReaction).
          const seen = watched(ctx, STS, t0, before);
          const reaction = ((seen.removing[1]?.at ?? 0) - (named(seen.ready, 'mysql-2')?.at ?? 0)) / 1000;
          const cap = ctx.bounds.controllerReaction.seconds;
          const win = {
            seconds: Math.min(cap, Math.max(5, Math.ceil(5 * reaction))),
            why: `5 × the controller's reaction seen here (new mysql-2 Ready → mysql-1 marked for deletion ${reaction.toFixed(1)}s), within 5…${cap}s`,
          };
          const partitionBroken = await untouched(ctx, STS, 'mysql-0', kept, win, 'below partition=1');
          newRevision = (await readRevisions(ctx))?.updateRevision ?? '';
          const w = watched(ctx, STS, t0, before);
          return {
            tables: [
              replacedTable(w, names(STS, [2, 1])),
              revisionTable(ctx, `revisions (old ${oldRevision}, new ${newRevision})`),
            ],
            w,
            partitionBroken,
            revisions: revisions(ctx),
            expected: { 'mysql-0': oldRevision, 'mysql-1': newRevision, 'mysql-2': newRevision },
            vars: { order: orderOf(w.removing), window: win.seconds },
          };
        },
        judge({ w, partitionBroken, revisions, expected }) {
          onLiveWatch(w);
          orderedBy([2, 1], w.removing, 'update order (pods marked for deletion)');
          orderedBy([2, 1], w.gone, 'update order (pods removed)');
          const newReady = named(w.ready, 'mysql-2')?.at ?? Infinity;
          eachAfter([
            { label: 'mysql-1 marked for deletion', start: w.removing[1]!.at, previousDone: newReady },
          ]);
          expect(partitionBroken, 'mysql-0 is below the partition').to.equal(undefined);
          expect(expected['mysql-1'], 'a new revision').to.not.equal(expected['mysql-0']);
          expect(revisions, 'mysql-0 on the old revision, mysql-1 and mysql-2 on the new').to.deep.equal(
            expected,
          );
        },
      }),
      step({
        id: 'update-rest',
        title: 'partition=0: mysql-0 is replaced last, and every pod runs the new revision',
        async act(ctx) {
          phase('partition=0, the rest  ≙ kubectl patch sts mysql (rollingUpdate.partition: 0)');
          const { t0, before } = await rollout(ctx, STS, 3, () => setPartition(ctx, STS, 0), [0]);
          const w = watched(ctx, STS, t0, before);
          // Since the rollout began (a lab pauses in between): mysql-0 untouched until partition=0.
          const all = watched(ctx, STS, rolloutAt);
          return {
            tables: [replacedTable(w, names(STS, [0])), revisionTable(ctx, `revisions (new ${newRevision})`)],
            w,
            all,
            early: all.removing.filter((m) => m.name === 'mysql-0' && m.at < t0),
            revisions: revisions(ctx),
            expected: Object.fromEntries(names(STS, [0, 1, 2]).map((n) => [n, newRevision])),
            vars: { order: orderOf(w.removing) },
          };
        },
        judge({ w, all, early, revisions, expected }) {
          onLiveWatch(all);
          const touched = early.map((m) => `${m.name} uid ${m.uid} at ${new Date(m.at).toISOString()}`);
          expect(touched, 'mysql-0 marked for deletion while partition=1 held it').to.deep.equal([]);
          orderedBy([0], w.removing, 'update order after partition=0 (pods marked for deletion)');
          orderedBy([0], w.gone, 'update order after partition=0 (pods removed)');
          expect(revisions, 'every pod runs the new revision').to.deep.equal(expected);
        },
      }),
      step({
        id: 'scale-down',
        title: 'scale 3→1: mysql-2 removed first, mysql-1 only after mysql-2 is gone',
        async act(ctx) {
          phase('scale to 1  ≙ kubectl scale sts mysql --replicas=1');
          const t0 = await scale(ctx, STS, 1);
          await settled(ctx, STS, 1, times(2, ctx.bounds.mysqlStop), 'one graceful stop after the other');
          const w = watched(ctx, STS, t0);
          return {
            tables: [eventTable('watch events, scale 3 → 1', w, ['removing', 'gone'], names(STS, [2, 1]))],
            w,
            vars: {
              order: orderOf(w.gone),
              gap: gapMs(named(w.removing, 'mysql-1'), named(w.gone, 'mysql-2')),
            },
          };
        },
        judge({ w }) {
          onLiveWatch(w);
          orderedBy([2, 1], w.gone, 'deletion order');
          orderedBy([2, 1], w.removing, 'termination order');
          eachAfter([
            { label: 'mysql-1 Terminating', start: w.removing[1]!.at, previousDone: w.gone[0]!.at },
          ]);
        },
      }),
      step({
        id: 'parallel',
        title: 'contrast, podManagementPolicy Parallel: scale 0→3, all three ADDED before any is Ready',
        async act(ctx) {
          const sts = renderSeed(ctx.ns, { ...SEED, podManagementPolicy: 'Parallel' }).statefulSet;
          // A second StatefulSet beside the first: its own name and labels, so neither adopts the
          // other's pods and the headless Service keeps selecting only mysql-N.
          const labels = { app: PARALLEL };
          sts.metadata = { ...sts.metadata, name: PARALLEL };
          sts.spec!.selector = { matchLabels: labels };
          sts.spec!.template.metadata = { ...sts.spec!.template.metadata, labels };
          phase(`create ${PARALLEL}: podManagementPolicy Parallel, 0 replicas`);
          await createAll(ctx, [sts]);
          phase(`scale to 3  ≙ kubectl scale sts ${PARALLEL} --replicas=3`);
          const t0 = await scale(ctx, PARALLEL, 3);
          await settled(
            ctx,
            PARALLEL,
            3,
            times(2, ctx.bounds.mysqlStart),
            'three MySQL first starts side by side',
          );
          const w = watched(ctx, PARALLEL, t0);
          const expected = names(PARALLEL, [0, 1, 2]);
          const ats = w.added.map((m) => m.at);
          const first = w.ready[0];
          return {
            tables: [eventTable(`watch events, ${PARALLEL} scale 0 → 3`, w, ['added', 'ready'], expected)],
            w,
            expected,
            lastAdded: Math.max(...ats),
            vars: {
              spread: ats.length ? Math.round(Math.max(...ats) - Math.min(...ats)) : '-',
              first: first?.name ?? '-',
              firstAt: first ? `+${((first.at - t0) / 1000).toFixed(2)}s` : '-',
            },
          };
        },
        judge({ w, expected, lastAdded }) {
          onLiveWatch(w);
          const added = w.added.map((m) => m.name);
          expect(added, 'pods ADDED').to.have.members(expected);
          expect(w.ready[0], 'a pod became Ready').to.not.equal(undefined);
          expect(lastAdded, 'all three created before the first became Ready').to.be.below(w.ready[0]!.at);
        },
      }),
    ];
  },
};
