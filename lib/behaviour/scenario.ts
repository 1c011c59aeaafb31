// The scenario runner: a behaviour becomes a mocha `describe` with one `it` per step, on one run
// (lib/run/run.ts) opened before the first step and closed after the last. `npm run scenario --
// --grep <name>` selects behaviours by name.
import { evidence, note } from '../run/console.ts';
import type { Verdict } from '../report/data.ts';
import { closeRun, openRun, type Run } from '../run/run.ts';
import { notReached, type Behaviour } from './model.ts';
import { unplanned } from '../run/plan.ts';
import { LiveView } from '../view/live.ts';

/** Opening a run: connect, repair, sweep, namespace, first list of every watched resource. */
const OPEN_BOUND_MS = 120_000;
/** Closing: undo faults (a node restart is bounded inside the undo), diagnostics, namespace delete. */
const CLOSE_BOUND_MS = 300_000;

export function describeBehaviour(b: Behaviour, profile: string): void {
  if (b.notApplicable) {
    // A pending test: the console, JUnit and the report list it as not run, never as passed.
    describe(`${b.name}: ${b.title}`, () => it(`not applicable to profile ${profile}: ${b.notApplicable}`));
    return;
  }
  describe(`${b.name}: ${b.title}`, function () {
    let run: Run | undefined;
    let view: LiveView | undefined; // `npm run scenario -- --view` (LAB_VIEW=1): the live page
    let broken: string | undefined;
    const verdicts: Verdict[] = [];

    before(async function () {
      this.timeout(OPEN_BOUND_MS);
      run = await openRun(b.name);
      for (const u of run.repaired) note(`repaired what an earlier run left: ${u}`);
      for (const s of run.swept) note(`swept namespace ${s} of an earlier run`);
      note(`namespace ${run.ctx.ns}; recording pods, PVCs, events, endpointslices, nodes, PVs`);
      if (process.env.LAB_VIEW === '1') note(`live view: ${(view = await LiveView.open(run, b.name)).url}`);
    });

    for (const s of b.steps()) {
      it(s.title, async function () {
        if (broken) throw new Error(notReached(broken));
        view?.step({ title: s.title, lines: [] });
        const seen = await s.act(run!.ctx).catch((err: unknown) => {
          broken = s.id;
          throw err;
        });
        for (const t of seen.tables ?? []) evidence(t.title, t.rows);
        s.judge(seen, run!.ctx);
      });
    }

    afterEach(function () {
      if (!this.currentTest) return;
      const { title, state = 'pending', duration: ms, err } = this.currentTest;
      verdicts.push({ title, state, at: Date.now(), ms, message: err?.message });
      view?.verdict(verdicts.at(-1)!);
    });

    after(async function () {
      this.timeout(CLOSE_BOUND_MS);
      if (!run) return;
      const unsaid = unplanned(b, run.ctx.faults.injected);
      if (unsaid.length)
        verdicts.push({ title: 'plan', state: 'failed', at: Date.now(), message: unsaid.join('; ') });
      const total = (performance.now() - run.t0) / 1000;
      const waited = run.ctx.waited;
      note(
        `time: ${total.toFixed(1)}s in all, ${waited.toFixed(1)}s waiting for Kubernetes (grace periods, tolerations, the workload's start), ${(total - waited).toFixed(1)}s harness and API calls`,
      );
      await view?.close();
      const closed = await closeRun(run, { verdicts, artifacts: true, waitGone: false });
      if (closed.diagnostics) note(`diagnostics in ${closed.diagnostics}`);
      if (closed.kept) note(`kept namespace ${run.ctx.ns} (LAB_KEEP)`);
      if (unsaid.length)
        throw new Error(`${b.name} injected what its plan does not name: ${unsaid.join('; ')}`);
    });
  });
}
