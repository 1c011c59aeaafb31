// The node-loss judgement on made-up timelines: each bound is checked on both sides, from what the
// server recorded (the last heartbeat, the taint's timeAdded), so an eviction or a Ready=Unknown
// that came too soon fails as surely as one that came too late.
import { expect } from 'chai';
import { deriveBounds, K8S_DEFAULTS, type LiveSettings } from '../../lib/cluster/settings.ts';
import type { RunContext } from '../../lib/run/run.ts';
import type { NodeFaultProvider } from '../../lib/cluster/kind-nodes.ts';
import { settleLooks, type Look } from '../../lib/observe/node-looks.ts';
import { judgeLoss, stillRan, TOLERATION, type VictimLoss } from '../../behaviours/support/node-loss.ts';

const settings: LiveSettings = {
  ...K8S_DEFAULTS,
  nodeMonitorGracePeriod: 20,
  nodeMonitorPeriod: 2,
  defaultUnreachableToleration: 30,
  defaultNotReadyToleration: 30,
  sources: {},
};
const ctx = { settings, rec: { events: [] } } as unknown as RunContext;
const pod = { metadata: { name: 'mysql-0', uid: 'old', deletionTimestamp: new Date() } };

/** A loss as the lab's cluster shows it: Unknown 21.5 s after the last heartbeat, evicted 10.5 s
 * after the taint's timeAdded; `change` moves one of the moments. */
function loss(change: Partial<Record<'unknownAt' | 'evictedAt', number>> = {}): VictimLoss {
  const lostAt = 1_000_000;
  const heartbeatAt = lostAt - 1_500;
  const unknownAt = heartbeatAt + 21_500;
  const taintedAt = unknownAt + 100;
  const taintAddedAt = taintedAt - 600; // whole seconds on the server: at or before the event
  return {
    pod: 'mysql-0',
    uid: 'old',
    before: pod,
    now: pod,
    uids: ['old'],
    lostAt,
    window: { from: lostAt, to: lostAt + 80_000 },
    bounds: deriveBounds({ ...settings, defaultUnreachableToleration: TOLERATION }),
    heartbeatAt,
    unknownAt,
    taintedAt,
    taintAddedAt,
    evictedAt: taintAddedAt + TOLERATION * 1000 + 500,
    ...change,
  } as unknown as VictimLoss;
}

describe('node loss judgement: bounds on both sides', () => {
  it('holds for a loss inside every bound', () => {
    expect(() => judgeLoss(loss(), ctx)).to.not.throw();
  });

  it('fails when Ready=Unknown came sooner than the grace period after the last heartbeat', () => {
    const early = loss({ unknownAt: 1_000_000 - 1_500 + 5_000 });
    expect(() => judgeLoss(early, ctx)).to.throw(/last recorded heartbeat to Ready=Unknown/);
  });

  it("fails when the eviction came sooner than the toleration after the taint's timeAdded", () => {
    const l = loss();
    const early = loss({ evictedAt: (l.taintAddedAt as number) + 3_000 });
    expect(() => judgeLoss(early, ctx)).to.throw(/timeAdded to the eviction/);
  });
});

describe("a look into a node the API provider cut off: judged from the node's own record, never passed unseen", () => {
  const withRecord = (record: Array<{ at: number; count: number }>) =>
    ({ countsDuring: async () => record }) as unknown as NodeFaultProvider;

  it('fills each look from the record nearest its moment, within two seconds, else leaves it unknown', async () => {
    const looks: Look[] = [{ at: 10_000 }, { at: 20_000 }, { at: 30_000, count: 2 }];
    await settleLooks(
      withRecord([
        { at: 9_400, count: 1 },
        { at: 10_700, count: 0 },
        { at: 23_000, count: 1 },
      ]),
      'w3',
      looks,
    );
    expect(looks.map((l) => l.count)).to.deep.equal([1, undefined, 2]);
  });

  it('fails a look that saw none, and a look still unknown where it is judged', () => {
    expect(() => stillRan({ at: 1, count: 0 }, 'ran')).to.throw(/ran/);
    expect(() => stillRan({ at: 1 }, 'ran')).to.throw(/ran/);
    expect(() => stillRan({ at: 1, count: 1 }, 'ran')).to.not.throw();
    // Deferred to the step that reads the record: not judged here, and not passed either.
    expect(() => stillRan({ at: 1 }, 'ran', true)).to.not.throw();
  });
});
