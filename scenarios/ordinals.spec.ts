// (f) Ordinals order everything: with the default OrderedReady policy pods are created 0,1,2, each
// only after the previous one is Ready; scale-down removes the highest ordinal first, one at a
// time; a rolling update goes from the highest ordinal down and respects `partition`. Contrast:
// the Parallel policy creates all at once. Every order is read from watch events recorded from
// before the action, never from snapshots.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { evidence, note, phase } from '../lib/run/console.ts';
import {
  creations,
  deletions,
  eachAfter,
  orderedBy,
  readyTransitions,
  type PodMoment,
} from '../lib/observe/evidence.ts';
import { isPodReady } from '../lib/observe/k8s-facts.ts';
import { until } from '../lib/observe/waits.ts';
import { createAll, useScenario, waiting, type ScenarioContext } from '../lib/run/context.ts';
import { MYSQL_START_BOUND } from '../behaviours/support/mysql.ts';
import { scale, setPartition, startRollout } from '../behaviours/support/scale.ts';
import { renderSeed } from '../behaviours/support/seed.ts';

const rel = (t: number, t0: number) => `+${((t - t0) / 1000).toFixed(1)}s`;

function readyPods(ctx: ScenarioContext): V1Pod[] {
  return ctx.rec
    .objects<V1Pod>('pods')
    .filter((p) => p.metadata?.name?.startsWith('mysql-') && !p.metadata.deletionTimestamp && isPodReady(p));
}

function podsNamed(ctx: ScenarioContext): string[] {
  return ctx.rec
    .objects<V1Pod>('pods')
    .filter((p) => p.metadata?.name?.startsWith('mysql-'))
    .map((p) => p.metadata!.name!)
    .sort();
}

async function allReady(ctx: ScenarioContext, count: number, bound: number, what: string): Promise<void> {
  await waiting(
    ctx,
    until(ctx.rec, () => readyPods(ctx).length === count && podsNamed(ctx).length === count, {
      timeout: bound,
      why: `${count} mysql pods Ready (${what})`,
    }),
  );
}

function timelineRows(t0: number, rows: Array<[string, PodMoment | undefined]>) {
  return rows.map(([what, m]) => ({
    event: what,
    pod: m?.name,
    at: m ? rel(m.at, t0) : 'never',
    resourceVersion: m?.resourceVersion,
  }));
}

describe('ordinals: creation, scale-down and rolling updates follow the ordinal', function () {
  const scenario = useScenario('ordinals');

  before(async function () {
    const ctx = scenario();
    phase('create the seed StatefulSet with 0 replicas (OrderedReady, the default)');
    const seed = renderSeed(ctx.ns, { replicas: 0 });
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
  });

  it('scale 0→3: ADDED 0,1,2, each after the previous became Ready', async function () {
    const ctx = scenario();
    const t0 = Date.now();
    phase('scale to 3  ≙ kubectl scale sts mysql --replicas=3');
    await scale(ctx, 'mysql', 3);
    await allReady(
      ctx,
      3,
      3 * MYSQL_START_BOUND,
      `bound 3 × ${MYSQL_START_BOUND}s: one MySQL first start after another`,
    );
    const added = creations(ctx.rec.events, t0);
    const ready = readyTransitions(ctx.rec.events, t0);
    const readyOf = (n: string) => ready.find((r) => r.name === n);
    evidence(
      'creation order (watch events)',
      timelineRows(t0, [
        ['ADDED', added[0]],
        ['Ready', readyOf('mysql-0')],
        ['ADDED', added[1]],
        ['Ready', readyOf('mysql-1')],
        ['ADDED', added[2]],
        ['Ready', readyOf('mysql-2')],
      ]),
    );
    orderedBy([0, 1, 2], added, 'creation order');
    eachAfter([
      { label: 'mysql-1 ADDED', start: added[1]!.at, previousDone: readyOf('mysql-0')?.at ?? Infinity },
      { label: 'mysql-2 ADDED', start: added[2]!.at, previousDone: readyOf('mysql-1')?.at ?? Infinity },
    ]);
  });

  it('rolling update: highest ordinal first, partition respected', async function () {
    const ctx = scenario();
    const sts = await ctx.kube.apps.readNamespacedStatefulSet({ namespace: ctx.ns, name: 'mysql' });
    const oldRevision = sts.status?.currentRevision;
    // Only replacements count: an old pod is still Ready in the MODIFIED event that marks it for
    // deletion, and would otherwise pass for its own successor.
    const uidsNow = () => new Set(ctx.rec.objects<V1Pod>('pods').map((p) => p.metadata!.uid!));
    const old0 = uidsNow();
    const t0 = Date.now();
    phase('change the pod template with partition=1  ≙ kubectl patch sts mysql (rollingUpdate.partition: 1)');
    await startRollout(ctx, 'mysql', 1);
    await waiting(
      ctx,
      until(
        ctx.rec,
        () => {
          const fresh = readyTransitions(ctx.rec.events, t0, old0).map((m) => m.name);
          return fresh.includes('mysql-2') && fresh.includes('mysql-1') && readyPods(ctx).length === 3
            ? fresh
            : undefined;
        },
        {
          timeout: 2 * MYSQL_START_BOUND,
          why: `mysql-2 then mysql-1 recreated and Ready (bound 2 × ${MYSQL_START_BOUND}s)`,
        },
      ),
    );
    const first = deletions(ctx.rec.events, t0);
    const pods = ctx.rec.objects<V1Pod>('pods').filter((p) => p.metadata?.name?.startsWith('mysql-'));
    const rev = (n: string) =>
      pods.find((p) => p.metadata?.name === n)?.metadata?.labels?.['controller-revision-hash'];
    evidence(
      'revisions after partition=1',
      ['mysql-0', 'mysql-1', 'mysql-2'].map((n) => ({
        pod: n,
        revision: rev(n),
        updated: rev(n) !== oldRevision,
      })),
    );
    orderedBy([2, 1], first, 'update order (pods replaced)');
    expect(rev('mysql-0'), 'mysql-0 is below the partition and keeps the old revision').to.equal(oldRevision);
    expect(rev('mysql-1')).to.not.equal(oldRevision);
    expect(rev('mysql-1')).to.equal(rev('mysql-2'));
    const ready1 = readyTransitions(ctx.rec.events, t0, old0).find((m) => m.name === 'mysql-2');
    eachAfter([
      { label: 'mysql-1 deleted for update', start: first[1]!.at, previousDone: ready1?.at ?? Infinity },
    ]);

    const old1 = uidsNow();
    const t1 = Date.now();
    phase('partition=0: the rest of the update  ≙ kubectl patch sts mysql (rollingUpdate.partition: 0)');
    await setPartition(ctx, 'mysql', 0);
    await waiting(
      ctx,
      until(
        ctx.rec,
        () =>
          readyTransitions(ctx.rec.events, t1, old1).some((m) => m.name === 'mysql-0') &&
          readyPods(ctx).length === 3,
        { timeout: MYSQL_START_BOUND, why: `mysql-0 updated and Ready (bound ${MYSQL_START_BOUND}s)` },
      ),
    );
    orderedBy([0], deletions(ctx.rec.events, t1), 'update order after partition=0');
    note('every pod now runs the new revision; mysql-0 was updated only when the partition allowed it');
  });

  it('scale 3→1: mysql-2 removed first, mysql-1 only after mysql-2 is gone', async function () {
    const ctx = scenario();
    const t0 = Date.now();
    phase('scale to 1  ≙ kubectl scale sts mysql --replicas=1');
    await scale(ctx, 'mysql', 1);
    await waiting(
      ctx,
      until(ctx.rec, () => (podsNamed(ctx).join(',') === 'mysql-0' ? true : undefined), {
        timeout: 120,
        why: 'only mysql-0 left (bound 120 s: two graceful MySQL shutdowns)',
      }),
    );
    const gone = deletions(ctx.rec.events, t0);
    const terminating = ctx.rec
      .history('pods')
      .filter((e) => e.at >= t0 && e.type === 'MODIFIED' && (e.object as V1Pod).metadata?.deletionTimestamp);
    const firstTerminating = (n: string) => terminating.find((e) => e.name === n);
    evidence(
      'scale-down order (watch events)',
      timelineRows(t0, [
        ['Terminating', firstTerminating('mysql-2')],
        ['DELETED', gone.find((g) => g.name === 'mysql-2')],
        ['Terminating', firstTerminating('mysql-1')],
        ['DELETED', gone.find((g) => g.name === 'mysql-1')],
      ]),
    );
    orderedBy([2, 1], gone, 'deletion order');
    eachAfter([
      {
        label: 'mysql-1 Terminating',
        start: firstTerminating('mysql-1')?.at ?? -Infinity,
        previousDone: gone[0]!.at,
      },
    ]);
  });
});

describe('ordinals contrast: podManagementPolicy Parallel creates all at once', function () {
  const scenario = useScenario('ordinals-parallel');

  it('scale 0→3 with Parallel: all three ADDED before any is Ready', async function () {
    const ctx = scenario();
    const seed = renderSeed(ctx.ns, { replicas: 0, podManagementPolicy: 'Parallel' });
    await createAll(ctx, [seed.secret, seed.service, seed.statefulSet]);
    const t0 = Date.now();
    phase('scale to 3 (Parallel)');
    await scale(ctx, 'mysql', 3);
    await allReady(
      ctx,
      3,
      2 * MYSQL_START_BOUND,
      `bound 2 × ${MYSQL_START_BOUND}s: three MySQL first starts side by side`,
    );
    const added = creations(ctx.rec.events, t0);
    const firstReady = readyTransitions(ctx.rec.events, t0)[0]!;
    evidence(
      'creation (watch events)',
      timelineRows(t0, [...added.map((a): [string, PodMoment] => ['ADDED', a]), ['first Ready', firstReady]]),
    );
    expect(added).to.have.length(3);
    expect(Math.max(...added.map((a) => a.at)), 'all created before the first became Ready').to.be.below(
      firstReady.at,
    );
  });
});
