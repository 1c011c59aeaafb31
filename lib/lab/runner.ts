// Runs one lab step by step: before each step it says what will happen, what the seed predicts and
// the equivalent kubectl, waits for Enter, runs the step, shows what the cluster did and whether the
// prediction held; then asks the lab's questions and cleans up whatever happened.
import type { Readable } from 'node:stream';
import type { LabDefinition, LabStep, Observation } from './model.ts';
import { Pauser } from './pause.ts';
import { closeSession, openSession } from './session.ts';
import { displayWidth, padCells, renderTable, wrap } from './table.ts';
import { fill, LabTextError, type Lang, type LabText, type StepText, type UiText } from './text.ts';

export interface RunOptions {
  lang: Lang;
  pause: boolean;
  write?: (s: string) => void;
  input?: Readable;
  /** Terminal width for wrapping; the terminal's own, else 100. */
  columns?: number;
}

export interface RunResult {
  held: number;
  total: number;
  failed: boolean;
  namespace?: string;
}

/** The steps in code and in text must be the same ids in the same order. */
export function matchSteps(def: LabDefinition, text: LabText): Array<[LabStep, StepText]> {
  const code = def.steps();
  const ids = (xs: Array<{ id: string }>) => xs.map((x) => x.id).join(', ');
  if (ids(code) !== ids(text.steps))
    throw new LabTextError(
      `lab ${def.name}: steps in code (${ids(code)}) and in labs/${def.name}/text.yaml (${ids(text.steps)}) differ`,
    );
  return code.map((s, i) => [s, text.steps[i]!]);
}

export async function runLab(
  def: LabDefinition,
  text: LabText,
  ui: UiText,
  opts: RunOptions,
): Promise<RunResult> {
  const { lang } = opts;
  const write = opts.write ?? ((s: string) => console.log(s));
  const width = Math.min(opts.columns ?? process.stdout.columns ?? 100, 110);
  const u = (key: string, vars?: Record<string, string | number>) => fill(ui[key]?.[lang] ?? key, vars);
  const steps = matchSteps(def, text);
  const pauser = new Pauser(opts.pause, opts.input);
  const started = performance.now();
  let current: StepText | undefined;
  const say = (key: string, vars?: Record<string, string | number>) => {
    const note = current?.notes?.[key]?.[lang];
    write(wrap(fill(note ?? key, vars), width, '    ', '  · '));
  };

  write('');
  write(`━━━ ${u('lab', { name: text.name, title: text.title[lang] })} ━━━`);
  write(wrap(`${u('goal')}: ${text.goal[lang]}`, width, '  '));
  write(u('preparing'));
  const { ctx, notes } = await openSession(def.name, lang, say);
  for (const what of notes.repaired) write(`  · ${u('repaired', { what })}`);
  for (const what of notes.swept) write(`  · ${u('swept', { what })}`);
  write(u('about', { seed: text.seed, minutes: text.minutes, steps: steps.length, ns: ctx.ns }));
  write(wrap(u('cleanupPromise'), width));

  const result: RunResult = { held: 0, total: steps.length, failed: false, namespace: ctx.ns };
  try {
    for (const [i, [code, words]] of steps.entries()) {
      current = words;
      await announce(i, words);
      await pauser.wait(u('pressEnter'), write);
      write(`  ${u('running')}`);
      const t0 = performance.now();
      let observation: Observation;
      try {
        observation = await code.action(ctx);
      } catch (err) {
        write(
          wrap(u('stepFailed', { error: err instanceof Error ? err.message : String(err) }), width, '  '),
        );
        result.failed = true;
        break;
      }
      for (const table of observation.tables) {
        write(`  [${table.title}]`);
        write(renderTable(table.rows, '  '));
      }
      write(`  ${u('took', { seconds: ((performance.now() - t0) / 1000).toFixed(1) })}`);
      const verdict = code.check(observation);
      const vars = { ns: ctx.ns, ...observation.vars, ...verdict.vars };
      if (verdict.held) result.held++;
      const sentence = fill((verdict.held ? words.held : words.missed)[lang], vars);
      write(wrap(u(verdict.held ? 'held' : 'missed', { text: sentence }), width, '  '));
      for (const key of observation.notes ?? []) say(key, vars);
      if (words.differs) write(wrap(words.differs[lang], width, '    ', `  ${u('differs')}: `));
    }
    if (!result.failed) {
      write('');
      write(rule(u('questions')));
      text.questions.forEach((q, i) => write(wrap(`${i + 1}. ${q.q[lang]}`, width, '   ')));
      write(u('answersIn', { doc: `docs/labs/${text.name}.md` }));
    }
  } finally {
    current = undefined;
    pauser.close();
    write('');
    write(
      rule(
        u('summary', {
          held: result.held,
          total: result.total,
          seconds: ((performance.now() - started) / 1000).toFixed(0),
        }),
      ),
    );
    write(u('cleaning', { ns: ctx.ns }));
    try {
      const seconds = await closeSession(ctx);
      write(u('cleaned', { ns: ctx.ns, seconds: seconds.toFixed(1) }));
    } catch (err) {
      result.failed = true;
      write(
        wrap(u('cleanupFailed', { error: err instanceof Error ? err.message : String(err) }), width, '  '),
      );
    }
  }
  return result;

  function rule(title: string): string {
    return `── ${title} ${'─'.repeat(Math.max(3, width - displayWidth(title) - 4))}`;
  }

  async function announce(i: number, words: StepText): Promise<void> {
    write('');
    write(rule(u('step', { n: i + 1, total: steps.length, title: words.title[lang] })));
    const labels = ['whatHappens', 'seedPredicts', 'watch', 'kubectl'].map((k) => u(k));
    const col = Math.max(...labels.map(displayWidth)) + 2;
    const hang = ' '.repeat(col + 2);
    const field = (label: string, value: string) =>
      write(wrap(value, width, hang, `  ${padCells(label, col)}`));
    field(labels[0]!, words.what[lang]);
    field(labels[1]!, words.prediction[lang]);
    field(labels[2]!, words.watch[lang]);
    words.kubectl.forEach((c, j) =>
      write(`  ${padCells(j ? '' : labels[3]!, col)}$ ${fill(c, { ns: ctx.ns })}`),
    );
  }
}
