// (f) Ordinals order everything. OrderedReady (the default) creates pods 0,1,2, each after the
// previous one is Ready; a rolling update replaces from the highest ordinal down, each after the
// previous replacement is Ready, and stops at `partition`; scale-down removes the highest first, one
// at a time. Contrast: Parallel creates all at once. Every order is read from pod events seen on the
// live watch from before the action, never from snapshots or from a re-list.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { times } from '../lib/cluster/settings.ts';
import { worker } from '../lib/cluster/topology.ts';
import { eachAfter, orderedBy, type PodMoment } from '../lib/observe/evidence.ts';
import { holds } from '../lib/observe/waits.ts';
import { phase } from '../lib/run/console.ts';
import { createAll, waiting, type RunContext } from '../lib/run/run.ts';
import { deploySeed, pod, uidPrefix } from './support/pods.ts';
import { eventTable, onLiveWatch, podsOf, rollout, scaleTo, watched, type Watched } from './support/scale.ts';
import { renderSeed } from './support/seed.ts';

const STS = 'mysql';
const PARALLEL = 'mysql-parallel';
const SEED = { replicas: 0, nodeNames: [worker(1), worker(2)] };
/** A JSON patch op: a RollingUpdate held at `partition` (only ordinals ≥ partition are updated). */
const partition = (partition: number) => ({
  op: 'replace',
  path: '/spec/updateStrategy',
  value: { type: 'RollingUpdate', rollingUpdate: { partition } },
});
// A changed pod-template annotation is the smallest change that makes a new revision.
const ANNOTATION = { 'statefulset-lab/rollout': 'step-1' };
const NEW_TEMPLATE = { op: 'add', path: '/spec/template/metadata/annotations', value: ANNOTATION };

const names = (sts: string, ordinals: number[]) => ordinals.map((i) => `${sts}-${i}`);
const named = (ms: PodMoment[], name: string) => ms.find((m) => m.name === name);
const orderOf = (ms: PodMoment[]) => ms.map((m) => m.name).join(', ') || 'none';
const gapMs = (later?: PodMoment, earlier?: PodMoment) =>
  later && earlier ? Math.round(later.at - earlier.at) : '-';
/** `start` came only after `previous` was done (a `previous` never seen counts as never done). */
const after = (label: string, start?: PodMoment, previous?: PodMoment) =>
  eachAfter([{ label, start: start!.at, previousDone: previous?.at ?? Infinity }]);
const revisionOf = (p: V1Pod) => p.metadata?.labels?.['controller-revision-hash'] ?? '-';
const revisions = (ctx: RunContext) =>
  Object.fromEntries(podsOf(ctx, STS).map((p) => [p.metadata!.name!, revisionOf(p)]));
const readRevisions = async (ctx: RunContext) =>
  (await ctx.kube.apps.readNamespacedStatefulSet({ namespace: ctx.ns, name: STS })).status;

/** Pods replaced by a rollout step: marked for deletion, gone, and their replacements Ready. */
const replacedTable = (w: Watched, ordinals: number[]) => {
  const title = `watch events, ${names(STS, ordinals).join(', ')} replaced`;
  return eventTable(title, w, ['removing', 'gone', 'ready'], ordinals);
};

export const ordinals: Behaviour = {
  name: 'ordinals',
  title: 'creation, scale-down and rolling updates follow the ordinal',
  steps() {
    let [oldRevision, newRevision] = ['', ''];
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
          const b = times(3, ctx.bounds.mysqlStart);
          const w = await scaleTo(ctx, STS, 3, b, 'one MySQL first start after another');
          // What the API server itself recorded (whole seconds): the watch's order must agree with it.
          const server = podsOf(ctx, STS).map((p) => ({
            pod: p.metadata!.name!,
            created: new Date(p.metadata!.creationTimestamp!).getTime(),
            ready: new Date(
              p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? NaN,
            ).getTime(),
          }));
          const iso = (ms: number) => (Number.isNaN(ms) ? '-' : new Date(ms).toISOString().slice(11, 19));
          const recorded = server.map((r) => ({
            pod: r.pod,
            created: iso(r.created),
            'Ready since': iso(r.ready),
          }));
          return {
            tables: [
              eventTable('watch events, scale 0 → 3', w, ['added', 'ready'], [0, 1, 2]),
              {
                title: "the API server's record (creationTimestamp, Ready lastTransitionTime)",
                rows: recorded,
              },
            ],
            w,
            server,
            vars: {
              order: orderOf(w.added),
              gap1: gapMs(named(w.added, 'mysql-1'), named(w.ready, 'mysql-0')),
              gap2: gapMs(named(w.added, 'mysql-2'), named(w.ready, 'mysql-1')),
            },
          };
        },
        judge({ w, server }) {
          onLiveWatch(w);
          orderedBy([0, 1, 2], w.added, 'creation order');
          // Cross-checked with the server's own times: pod n+1 created no earlier than pod n turned Ready.
          server.slice(1).forEach((next, i) => {
            const prev = server[i]!;
            const what = `${next.pod} created (server) not before ${prev.pod} turned Ready (server)`;
            expect(next.created, what).to.be.at.least(prev.ready);
          });
          after('mysql-1 ADDED', w.added[1], named(w.ready, 'mysql-0'));
          after('mysql-2 ADDED', w.added[2], named(w.ready, 'mysql-1'));
        },
      }),
      step({
        id: 'update-partition',
        title: 'rolling update, partition=1: mysql-2 then mysql-1 (after the new mysql-2 Ready), not mysql-0',
        async act(ctx) {
          oldRevision = (await readRevisions(ctx))?.currentRevision ?? '';
          const kept = pod(ctx, 'mysql-0')!.metadata!.uid!;
          phase('new pod template, partition=1  ≙ kubectl patch sts mysql (rollingUpdate.partition: 1)');
          const seen = await rollout(ctx, STS, [2, 1], partition(1), NEW_TEMPLATE);
          rolloutAt = seen.t0;
          // Ignoring the partition, the controller would go on to mysql-0 in reaction to the new
          // mysql-1's Ready, as it went on to mysql-1 after the new mysql-2's: watch mysql-0 for
          // five times that reaction as seen here (at least 5 s, at most controllerReaction).
          const reaction = ((seen.removing[1]?.at ?? 0) - (named(seen.ready, 'mysql-2')?.at ?? 0)) / 1000;
          const cap = ctx.bounds.controllerReaction.seconds;
          const seconds = Math.min(cap, Math.max(5, Math.ceil(5 * reaction)));
          const measured = `5 × the reaction seen here (new mysql-2 Ready → mysql-1 marked for deletion ${reaction.toFixed(1)}s)`;
          const why = `below partition=1 (window ${seconds}s: ${measured}, within 5…${cap}s)`;
          const mysql0Kept = () => {
            const m = pod(ctx, 'mysql-0')?.metadata;
            return m?.uid === kept && !m.deletionTimestamp ? undefined : 'mysql-0 is being replaced';
          };
          const partitionBroken = await waiting(
            ctx,
            holds(ctx.rec, mysql0Kept, { seconds, why, resources: ['pods'] }),
          ).then(
            () => undefined,
            (err: Error) => err.message,
          );
          newRevision = (await readRevisions(ctx))?.updateRevision ?? '';
          const w = watched(ctx, STS, seen.t0, seen.except);
          return {
            tables: [
              replacedTable(w, [2, 1]),
              revisionTable(ctx, `revisions (old ${oldRevision}, new ${newRevision})`),
            ],
            w,
            partitionBroken,
            revisions: revisions(ctx),
            vars: { order: orderOf(w.removing), window: seconds },
          };
        },
        judge({ w, partitionBroken, revisions }) {
          onLiveWatch(w);
          orderedBy([2, 1], w.removing, 'update order (pods marked for deletion)');
          orderedBy([2, 1], w.gone, 'update order (pods removed)');
          after('mysql-1 marked for deletion', w.removing[1], named(w.ready, 'mysql-2'));
          expect(partitionBroken, 'mysql-0 is below the partition').to.equal(undefined);
          expect(newRevision, 'a new revision').to.not.equal(oldRevision);
          const expected = { 'mysql-0': oldRevision, 'mysql-1': newRevision, 'mysql-2': newRevision };
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
          const w = await rollout(ctx, STS, [0], partition(0));
          // Since the rollout began (a lab pauses in between): mysql-0 untouched until partition=0.
          const all = watched(ctx, STS, rolloutAt);
          return {
            tables: [replacedTable(w, [0]), revisionTable(ctx, `revisions (new ${newRevision})`)],
            w,
            all,
            early: all.removing.filter((m) => m.name === 'mysql-0' && m.at < w.t0),
            revisions: revisions(ctx),
            vars: { order: orderOf(w.removing) },
          };
        },
        judge({ w, all, early, revisions }) {
          onLiveWatch(all);
          const touched = early.map((m) => `${m.name} uid ${m.uid} at ${new Date(m.at).toISOString()}`);
          expect(touched, 'mysql-0 marked for deletion while partition=1 held it').to.deep.equal([]);
          orderedBy([0], w.removing, 'update order after partition=0 (pods marked for deletion)');
          orderedBy([0], w.gone, 'update order after partition=0 (pods removed)');
          const expected = Object.fromEntries(names(STS, [0, 1, 2]).map((n) => [n, newRevision]));
          expect(revisions, 'every pod runs the new revision').to.deep.equal(expected);
        },
      }),
      step({
        id: 'scale-down',
        title: 'scale 3→1: mysql-2 removed first, mysql-1 only after mysql-2 is gone',
        async act(ctx) {
          phase('scale to 1  ≙ kubectl scale sts mysql --replicas=1');
          const b = times(2, ctx.bounds.mysqlStop);
          const w = await scaleTo(ctx, STS, 1, b, 'one graceful stop after the other');
          return {
            tables: [eventTable('watch events, scale 3 → 1', w, ['removing', 'gone'], [2, 1])],
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
          after('mysql-1 Terminating', w.removing[1], w.gone[0]);
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
          const b = times(2, ctx.bounds.mysqlStart);
          const w = await scaleTo(ctx, PARALLEL, 3, b, 'three MySQL first starts side by side');
          const ats = w.added.map((m) => m.at);
          const first = w.ready[0];
          return {
            tables: [eventTable(`watch events, ${PARALLEL} scale 0 → 3`, w, ['added', 'ready'], [0, 1, 2])],
            w,
            vars: {
              spread: ats.length ? Math.round(Math.max(...ats) - Math.min(...ats)) : '-',
              first: first?.name ?? '-',
              firstAt: first ? `+${((first.at - w.t0) / 1000).toFixed(2)}s` : '-',
            },
          };
        },
        judge({ w }) {
          onLiveWatch(w);
          const added = w.added.map((m) => m.name);
          expect(added, 'pods ADDED').to.have.members(names(PARALLEL, [0, 1, 2]));
          expect(w.ready[0], 'a pod became Ready').to.not.equal(undefined);
          const lastAdded = Math.max(...w.added.map((m) => m.at));
          expect(lastAdded, 'all three created before the first became Ready').to.be.below(w.ready[0]!.at);
        },
      }),
    ];
  },
};
