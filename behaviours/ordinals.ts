// (f) Ordinals order everything. OrderedReady (the default) creates pods 0,1,2, each after the previous
// one is Ready; a rolling update replaces from the highest ordinal down, each after the previous
// replacement is Ready, and stops at `partition`; scale-down removes the highest first, one at a time.
// Contrast: Parallel creates all at once. Every order is read from pod events on the live watch.
import { expect } from 'chai';
import { step, type Behaviour } from '../lib/behaviour/model.ts';
import { times } from '../lib/cluster/settings.ts';
import { worker } from '../lib/cluster/topology.ts';
import { eachAfter, orderedBy, type PodMoment } from '../lib/observe/evidence.ts';
import { holds } from '../lib/observe/waits.ts';
import { phase } from '../lib/run/console.ts';
import { createAll, waiting, type RunContext } from '../lib/run/run.ts';
import { deployWorkload, pod, uidPrefix } from './support/pods.ts';
import { eventTable, onLiveWatch, podsOf, rollout, scaleTo, watched, type Watched } from './support/scale.ts';
import { podName, renderWorkload, STS, THE_STS, WORKLOAD_OBJECTS } from './support/workload.ts';

const PARALLEL = `${STS}-parallel`;
const [P0, P1, P2] = [podName(0), podName(1), podName(2)];
const SEED = { replicas: 0, nodeNames: [worker(1), worker(2)] };
/** A JSON patch op: the (default) RollingUpdate held at `value`; only ordinals ≥ value are updated. */
const PARTITION = '/spec/updateStrategy/rollingUpdate/partition';
const partition = (value: number) => ({ op: 'replace', path: PARTITION, value });
// A changed pod-template annotation is the smallest change that makes a new revision.
const ANNOTATION = { 'statefulset-lab/rollout': 'step-1' };
const NEW_TEMPLATE = { op: 'add', path: '/spec/template/metadata/annotations', value: ANNOTATION };

const named = (ms: PodMoment[], name: string) => ms.find((m) => m.name === name);
const orderOf = (ms: PodMoment[]) => ms.map((m) => m.name).join(', ') || 'none';
const gapMs = (to?: PodMoment, from?: PodMoment) => (to && from ? Math.round(to.at - from.at) : '-');
/** `start` came only after `previous` was done (a `previous` never seen counts as never done). */
const after = (label: string, start?: PodMoment, previous?: PodMoment) =>
  eachAfter([{ label, start: start!.at, previousDone: previous?.at ?? Infinity }]);
const msOf = (date?: Date) => new Date(date ?? NaN).getTime();
const hms = (ms: number) => (Number.isNaN(ms) ? '-' : new Date(ms).toISOString().slice(11, 19));
const readRevisions = async (ctx: RunContext) =>
  (await ctx.kube.apps.readNamespacedStatefulSet({ namespace: ctx.ns, name: STS })).status;

export const ordinals: Behaviour = {
  name: 'ordinals',
  title: 'creation, scale-down and rolling updates follow the ordinal',
  plan: { creates: [WORKLOAD_OBJECTS(3), `StatefulSet ${PARALLEL} (the contrast)`], faults: [] },
  steps() {
    let [oldRevision, newRevision, rolloutAt] = ['', '', 0];
    /** A rollout step's evidence: the replaced pods' events, and each pod's revision (table and judge). */
    const replaced = (ctx: RunContext, w: Watched, ordinals: number[], title: string) => {
      const rows = podsOf(ctx, STS).map((p) => {
        const m = p.metadata!;
        const revision = m.labels?.['controller-revision-hash'] ?? '-';
        return { pod: m.name!, uid: uidPrefix(m.uid), revision, updated: revision === newRevision };
      });
      const what = `${ordinals.map((i) => `${STS}-${i}`).join(', ')} replaced`;
      const tables = [eventTable(what, w, ['removing', 'gone', 'ready'], ordinals), { title, rows }];
      const revisions = Object.fromEntries(rows.map((r) => [r.pod, r.revision]));
      return { tables, w, revisions, vars: { order: orderOf(w.removing) } };
    };

    return [
      step({
        id: 'scale-up',
        title: 'scale 0→3: ADDED 0,1,2, each after the previous became Ready',
        async act(ctx) {
          phase(`create ${THE_STS} with 0 replicas (OrderedReady, the default)`);
          await deployWorkload(ctx, SEED);
          phase(`scale to 3  ≙ kubectl scale sts ${STS} --replicas=3`);
          const b = times(3, ctx.bounds.workloadStart);
          const w = await scaleTo(ctx, STS, 3, b, 'one MySQL first start after another');
          // What the API server itself recorded (whole seconds): the watch's order must agree with it.
          const api = podsOf(ctx, STS).map((p) => ({
            pod: p.metadata!.name!,
            created: msOf(p.metadata!.creationTimestamp),
            ready: msOf(p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime),
          }));
          const rows = api.map((r) => ({ pod: r.pod, created: hms(r.created), 'Ready since': hms(r.ready) }));
          const record = { title: "API server's times (creationTimestamp, Ready lastTransitionTime)", rows };
          const events = eventTable('scale 0 → 3', w, ['added', 'ready'], [0, 1, 2]);
          // ms from pod i-1 Ready to pod i ADDED
          const gap = (i: number) => gapMs(named(w.added, podName(i)), named(w.ready, podName(i - 1)));
          const vars = { order: orderOf(w.added), gap1: gap(1), gap2: gap(2) };
          return { tables: [events, record], w, api, vars };
        },
        judge({ w, api }) {
          onLiveWatch(w);
          orderedBy([0, 1, 2], w.added, 'creation order');
          // Cross-checked with the server's own times: pod n+1 created no earlier than pod n turned Ready.
          api.slice(1).forEach((next, i) => {
            const what = `${next.pod} created (server) not before ${api[i]!.pod} turned Ready (server)`;
            expect(next.created, what).to.be.at.least(api[i]!.ready);
          });
          after(`${P1} ADDED`, w.added[1], named(w.ready, P0));
          after(`${P2} ADDED`, w.added[2], named(w.ready, P1));
        },
      }),
      step({
        id: 'update-partition',
        title: `rolling update, partition=1: ${P2} then ${P1} (after the new ${P2} Ready), not ${P0}`,
        async act(ctx) {
          oldRevision = (await readRevisions(ctx))?.currentRevision ?? '';
          const kept = pod(ctx, P0)!.metadata!.uid!;
          phase(`new pod template, partition=1  ≙ kubectl patch sts ${STS} (rollingUpdate.partition: 1)`);
          const seen = await rollout(ctx, STS, [2, 1], partition(1), NEW_TEMPLATE);
          rolloutAt = seen.t0;
          // Ignoring the partition, the controller would replace pod 0 on the new pod 1's Ready as it did
          // pod 1 on the new pod 2's: watch pod 0 for 5 × that reaction (5 s…controllerReaction).
          const reaction = ((seen.removing[1]?.at ?? 0) - (named(seen.ready, P2)?.at ?? 0)) / 1000;
          const cap = ctx.bounds.controllerReaction.seconds;
          const seconds = Math.min(cap, Math.max(5, Math.ceil(5 * reaction)));
          const measured = `5 × the reaction seen here (new ${P2} Ready → ${P1} marked for deletion ${reaction.toFixed(1)}s)`;
          const why = `below partition=1 (window ${seconds}s: ${measured}, within 5…${cap}s)`;
          const firstKept = () => {
            const m = pod(ctx, P0)?.metadata;
            return m?.uid === kept && !m.deletionTimestamp ? undefined : `${P0} is being replaced`;
          };
          const window = holds(ctx.rec, firstKept, { seconds, why, resources: ['pods'] });
          // The window that held, or why it did not.
          const held = await waiting(ctx, window).catch((err: Error) => err.message);
          newRevision = (await readRevisions(ctx))?.updateRevision ?? '';
          const w = watched(ctx, STS, seen.t0, seen.except);
          const shown = replaced(ctx, w, [2, 1], `revisions (old ${oldRevision}, new ${newRevision})`);
          return { ...shown, held, vars: { ...shown.vars, window: seconds } };
        },
        judge({ w, held, revisions }) {
          onLiveWatch(w);
          orderedBy([2, 1], w.removing, 'update order (pods marked for deletion)');
          orderedBy([2, 1], w.gone, 'update order (pods removed)');
          after(`${P1} marked for deletion`, w.removing[1], named(w.ready, P2));
          expect(held, `${P0} is below the partition`).to.not.be.a('string');
          expect(newRevision, 'a new revision').to.not.equal(oldRevision);
          const expected = { [P0]: oldRevision, [P1]: newRevision, [P2]: newRevision };
          expect(revisions, `${P0} on the old revision, the others on the new`).to.deep.equal(expected);
        },
      }),
      step({
        id: 'update-rest',
        title: `partition=0: ${P0} is replaced last, and every pod runs the new revision`,
        async act(ctx) {
          phase(`partition=0, the rest  ≙ kubectl patch sts ${STS} (rollingUpdate.partition: 0)`);
          const w = await rollout(ctx, STS, [0], partition(0));
          // Since the rollout began (a lab pauses in between): mysql-0 untouched until partition=0.
          const all = watched(ctx, STS, rolloutAt);
          const early = all.removing.filter((m) => m.name === `${P0}` && m.at < w.t0);
          return { ...replaced(ctx, w, [0], `revisions (new ${newRevision})`), all, early };
        },
        judge({ w, all, early, revisions }) {
          onLiveWatch(all);
          const touched = early.map((m) => `${m.name} uid ${m.uid} at ${new Date(m.at).toISOString()}`);
          expect(touched, `${P0} marked for deletion while partition=1 held it`).to.deep.equal([]);
          orderedBy([0], w.removing, 'update order after partition=0 (pods marked for deletion)');
          orderedBy([0], w.gone, 'update order after partition=0 (pods removed)');
          const expected = { [P0]: newRevision, [P1]: newRevision, [P2]: newRevision };
          expect(revisions, 'every pod runs the new revision').to.deep.equal(expected);
        },
      }),
      step({
        id: 'scale-down',
        title: `scale 3→1: ${P2} removed first, ${P1} only after ${P2} is gone`,
        async act(ctx) {
          phase(`scale to 1  ≙ kubectl scale sts ${STS} --replicas=1`);
          const w = await scaleTo(
            ctx,
            STS,
            1,
            times(2, ctx.bounds.workloadStop),
            'one graceful stop at a time',
          );
          const vars = { order: orderOf(w.gone), gap: gapMs(named(w.removing, P1), named(w.gone, P2)) };
          return { tables: [eventTable('scale 3 → 1', w, ['removing', 'gone'], [2, 1])], w, vars };
        },
        judge({ w }) {
          onLiveWatch(w);
          orderedBy([2, 1], w.gone, 'deletion order');
          orderedBy([2, 1], w.removing, 'termination order');
          after(`${P1} Terminating`, w.removing[1], w.gone[0]);
        },
      }),
      step({
        id: 'parallel',
        title: 'contrast, podManagementPolicy Parallel: scale 0→3, all three ADDED before any is Ready',
        async act(ctx) {
          const parallel = { ...SEED, name: PARALLEL, podManagementPolicy: 'Parallel' } as const;
          const sts = renderWorkload(ctx.ns, parallel).statefulSet;
          phase(`create ${PARALLEL}: podManagementPolicy Parallel, 0 replicas`);
          await createAll(ctx, [sts]);
          phase(`scale to 3  ≙ kubectl scale sts ${PARALLEL} --replicas=3`);
          const b = times(2, ctx.bounds.workloadStart);
          const w = await scaleTo(ctx, PARALLEL, 3, b, 'three MySQL first starts side by side');
          const [ats, first] = [w.added.map((m) => m.at), w.ready[0]];
          const vars = {
            spread: ats.length ? Math.round(Math.max(...ats) - Math.min(...ats)) : '-',
            first: first?.name ?? '-',
            firstAt: first ? `+${((first.at - w.t0) / 1000).toFixed(2)}s` : '-',
          };
          const events = eventTable(`${PARALLEL} scale 0 → 3`, w, ['added', 'ready'], [0, 1, 2]);
          return { tables: [events], w, vars };
        },
        judge({ w }) {
          onLiveWatch(w);
          const added = w.added.map((m) => m.name);
          expect(added, 'pods ADDED').to.have.members([0, 1, 2].map((i) => `${PARALLEL}-${i}`));
          expect(w.ready[0], 'a pod became Ready').to.not.equal(undefined);
          const lastAdded = Math.max(...w.added.map((m) => m.at));
          expect(lastAdded, 'all three created before the first became Ready').to.be.below(w.ready[0]!.at);
        },
      }),
    ];
  },
};
