// The lab runner: one behaviour step by step on one run (lib/run/run.ts). Before each step it says
// what will happen, what the seed predicts and the equivalent kubectl, waits for Enter, runs the
// step's action, shows what the cluster did and the step's own judgement (the one CI runs) as ✔/✘;
// then asks the lab's questions and cleans up whatever happened. Steps without words are hidden.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verdictOf, type Behaviour, type Step } from '../behaviour/model.ts';
import { ARTIFACTS_DIR, RUN_ID } from '../cluster/paths.ts';
import type { Verdict } from '../report/data.ts';
import { writeReport } from '../report/html.ts';
import { LiveView } from '../view/live.ts';
import { setEcho } from '../run/console.ts';
import { closeRun, openRun } from '../run/run.ts';
import { unplanned } from '../run/plan.ts';
import { Pauser } from './pause.ts';
import { displayWidth, padCells, renderTable, wrap } from './table.ts';
import { fill, LabTextError, type Lang, type LabText, type StepText, type UiText } from './text.ts';

/**
 * Every step in code with its words, or none when the lab hides it. The words must name steps of
 * the behaviour, in the behaviour's order: a lab shows a subset, it never adds a step.
 */
export function matchSteps(def: Behaviour, text: LabText): Array<[Step, StepText | undefined]> {
  const code = def.steps();
  let next = 0;
  for (const words of text.steps) {
    const at = code.findIndex((s, i) => i >= next && s.id === words.id);
    if (at < 0)
      throw new LabTextError(
        `lab ${def.name}: labs/${def.name}/text.yaml has words for step "${words.id}", which behaviours/${def.name}.ts ${code.some((s) => s.id === words.id) ? 'has earlier in its order' : 'does not have'} (its steps: ${code.map((s) => s.id).join(', ')})`,
      );
    next = at + 1;
  }
  return code.map((s) => [s, text.steps.find((w) => w.id === s.id)]);
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runLab(
  def: Behaviour,
  text: LabText,
  ui: UiText,
  {
    lang,
    pause,
    view: live = false,
    onView,
  }: { lang: Lang; pause: boolean; view?: boolean; onView?: (view: LiveView) => void },
) {
  const write = (s: string) => console.log(s);
  const width = Math.min(process.stdout.columns ?? 100, 110); // the terminal's, else 100
  const u = (key: string, vars?: Record<string, string | number>) => fill(ui[key]?.[lang] ?? key, vars);
  const rule = (title: string) => `── ${title} ${'─'.repeat(Math.max(3, width - displayWidth(title) - 4))}`;
  const heading = (title: string) => write(`\n${rule(title)}`);
  const steps = matchSteps(def, text).filter((pair): pair is [Step, StepText] => pair[1] !== undefined);
  const pauser = new Pauser(pause);
  const started = performance.now();

  write(`\n━━━ ${u('lab', { name: text.name, title: text.title[lang] })} ━━━`);
  write(wrap(`${u('goal')}: ${text.goal[lang]}`, width, '  '));
  write(u('preparing'));
  // The lab shows its own tables and words; the scenario's English narration only goes to the story.
  setEcho(false);
  const run = await openRun(def.name, { namespacePrefix: 'workshop-' });
  const { ctx } = run;
  // The projector's page: the same run, drawn as the recorder sees it (lib/view/live.ts).
  const view = live
    ? await LiveView.open(run, u('lab', { name: text.name, title: text.title[lang] }))
    : undefined;
  if (view) write(u('view', { url: view.url }));
  if (view) onView?.(view);
  const verdicts: Verdict[] = [];
  const judged = (title: string, why?: string) => {
    verdicts.push({ title, state: why === undefined ? 'passed' : 'failed', at: Date.now(), message: why });
    view?.verdict(verdicts.at(-1)!);
  };
  for (const what of run.repaired) write(`  · ${u('repaired', { what })}`);
  for (const what of run.swept) write(`  · ${u('swept', { what })}`);
  write(u('about', { seed: text.seed, minutes: text.minutes, steps: steps.length, ns: ctx.ns }));
  write(wrap(u('cleanupPromise'), width));

  const result = { held: 0, total: steps.length, failed: false };
  const labels = ['whatHappens', 'seedPredicts', 'watch', 'kubectl'].map((k) => u(k));
  const col = Math.max(...labels.map(displayWidth)) + 2;
  try {
    for (const [i, [code, words]] of steps.entries()) {
      heading(u('step', { n: i + 1, total: steps.length, title: words.title[lang] }));
      [words.what, words.prediction, words.watch].forEach((value, j) =>
        write(wrap(value[lang], width, ' '.repeat(col + 2), `  ${padCells(labels[j]!, col)}`)),
      );
      words.kubectl.forEach((c, j) =>
        write(`  ${padCells(j ? '' : labels[3]!, col)}$ ${fill(c, { ns: ctx.ns })}`),
      );
      const said = [words.what, words.prediction, words.watch].map((v, j): [string, string] => [
        labels[j]!,
        v[lang],
      ]);
      view?.step({
        title: u('step', { n: i + 1, total: steps.length, title: words.title[lang] }),
        lines: said,
      });
      await pauser.wait(u('pressEnter'), write);
      write(`  ${u('running')}`);
      const t0 = performance.now();
      const observation = await code.act(ctx).catch((err: unknown) => {
        write(wrap(u('stepFailed', { error: messageOf(err) }), width, '  '));
        judged(words.title[lang], messageOf(err));
        result.failed = true;
      });
      if (!observation) break;
      for (const t of observation.tables ?? []) write(`  [${t.title}]\n${renderTable(t.rows, '  ')}`);
      write(`  ${u('took', { seconds: ((performance.now() - t0) / 1000).toFixed(1) })}`);
      const why = verdictOf(code, observation, ctx);
      const held = why === undefined;
      judged(words.title[lang], why);
      const vars = { ns: ctx.ns, ...observation.vars, why: why ?? '' };
      if (held) result.held++;
      const sentence = fill((held ? words.held : words.missed)[lang], vars);
      write(wrap(u(held ? 'held' : 'missed', { text: sentence }), width, '  '));
      if (!held) write(wrap(why, width, '      ', '    ↳ '));
      for (const key of observation.notes ?? [])
        write(wrap(fill(words.notes?.[key]?.[lang] ?? key, vars), width, '    ', '  · '));
      if (words.differs) write(wrap(words.differs[lang], width, '    ', `  ${u('differs')}: `));
    }
    if (!result.failed) {
      heading(u('questions'));
      text.questions.forEach((q, i) => write(wrap(`${i + 1}. ${q.q[lang]}`, width, '   ')));
      write(u('answersIn', { doc: `docs/labs/${text.name}.md` }));
    }
  } finally {
    pauser.close();
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    heading(u('summary', { held: result.held, total: result.total, seconds }));
    write(u('cleaning', { ns: ctx.ns }));
    try {
      const unsaid = unplanned(def, ctx.faults.injected);
      if (unsaid.length)
        write(wrap(`✘ ${def.name} injected what its plan does not name: ${unsaid.join('; ')}`, width, '  '));
      result.failed ||= unsaid.length > 0;
      if (unsaid.length) judged('plan', unsaid.join('; '));
      const closed = await closeRun(run, { verdicts, artifacts: !!view, waitGone: true });
      write(u('cleaned', { ns: ctx.ns, seconds: closed.cleanupSeconds.toFixed(1) }));
      if (view) {
        const report = writeReport(join(ARTIFACTS_DIR, RUN_ID));
        view.finish(readFileSync(report, 'utf8'));
        write(`  ${report}`);
      }
    } catch (err) {
      result.failed = true;
      write(wrap(u('cleanupFailed', { error: messageOf(err) }), width, '  '));
    }
    await view?.close();
  }
  return { ...result, shown: view?.shown ?? [] };
}
