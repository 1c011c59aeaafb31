// Lab mode without a cluster: every lab's words are complete in both languages and match its steps
// in code, the validator refuses what a translator could get wrong, the command line means what the
// help says, and the attendee pages are the ones the text would write now.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { LAB_NAMES, labTextPath, loadUi, UI_TEXT_PATH } from '../../labs/catalog.ts';
import { BEHAVIOURS } from '../../behaviours/index.ts';
import { langFromEnv, parseLabArgs, UsageError } from '../../lib/lab/args.ts';
import { renderLabPage } from '../../lib/lab/docs.ts';
import { matchSteps } from '../../lib/lab/runner.ts';
import {
  LabTextError,
  loadLabText,
  placeholders,
  validateLabText,
  validateUiText,
  type LabText,
} from '../../lib/lab/text.ts';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';

/** A complete text file of a one-step lab; the negative cases below each break one thing in it. */
const VALID = `
name: demo
seed: "§2 (c)"
minutes: 2
title: { en: "Demo", ko: "데모" }
goal: { en: "See a pod come back.", ko: "파드가 돌아오는 것을 본다." }
steps:
  - id: delete
    title: { en: "Delete mysql-0", ko: "mysql-0 삭제" }
    what: { en: "Deletes the pod.", ko: "파드를 삭제한다." }
    prediction: { en: "It comes back.", ko: "다시 뜬다." }
    watch: { en: "The UID.", ko: "UID." }
    kubectl: ["kubectl delete pod mysql-0 -n {ns}"]
    held: { en: "back as {name} with UID {uid}.", ko: "{name}(UID {uid})로 돌아왔다." }
    missed: { en: "{name} did not come back.", ko: "{name}이 돌아오지 않았다." }
    notes:
      ipChanged: { en: "The IP changed to {ip}.", ko: "IP가 {ip}로 바뀌었다." }
questions:
  - q: { en: "Why a new UID?", ko: "UID는 왜 바뀌나?" }
    a: { en: "It is a new object.", ko: "새 객체이기 때문이다." }
`;

function variant(edit: (t: Record<string, unknown> & { steps: Array<Record<string, unknown>> }) => void) {
  const t = parse(VALID) as Record<string, unknown> & { steps: Array<Record<string, unknown>> };
  edit(t);
  return t;
}

describe('lab text: every lab', () => {
  it('the catalog names each lab once, and each has steps in code', () => {
    expect(new Set(LAB_NAMES).size).to.equal(LAB_NAMES.length);
    expect(Object.keys(BEHAVIOURS).sort()).to.deep.equal([...LAB_NAMES].sort());
  });

  it('labs/ui.yaml has every key in English and Korean', () => {
    expect(validateUiText(parse(readFileSync(UI_TEXT_PATH, 'utf8')))).to.deep.equal([]);
  });

  for (const lab of LAB_NAMES) {
    describe(lab, () => {
      it(`labs/${lab}/text.yaml exists and is complete in both languages`, () => {
        const path = labTextPath(lab);
        expect(existsSync(path), `${path} is missing`).to.equal(true);
        const problems = validateLabText(parse(readFileSync(path, 'utf8')), lab);
        expect(problems, `${path}:\n  ${problems.join('\n  ')}`).to.deep.equal([]);
      });

      it("its words name steps of behaviours/<lab>.ts, in the behaviour's order", () => {
        const text = loadLabText(labTextPath(lab), lab);
        const shown = matchSteps(BEHAVIOURS[lab], text).filter(([, words]) => words);
        expect(shown.map(([code, words]) => [code.id, words!.id])).to.deep.equal(
          text.steps.map((s) => [s.id, s.id]),
        );
      });

      it(`docs/labs/${lab}.md is the page its text writes now`, () => {
        const path = join(REPO_ROOT, 'docs', 'labs', `${lab}.md`);
        const page = renderLabPage(loadLabText(labTextPath(lab), lab), loadUi());
        const stale = `${path} is out of date with labs/${lab}/text.yaml: run \`npm run lab -- docs\` and commit the pages`;
        expect(existsSync(path), stale).to.equal(true);
        expect(readFileSync(path, 'utf8') === page, stale).to.equal(true);
      });
    });
  }

  it("words out of the behaviour's order, or for a step it lacks, are refused, naming its steps", () => {
    const lab = 'pod-loss';
    const text = loadLabText(labTextPath(lab), lab);
    const behaviour = BEHAVIOURS[lab];
    const ids = behaviour
      .steps()
      .map((s) => s.id)
      .join(', ');
    const reordered: LabText = { ...text, steps: [...text.steps].reverse() };
    expect(() => matchSteps(behaviour, reordered)).to.throw(LabTextError, /has earlier in its order/);
    const extra: LabText = { ...text, steps: [...text.steps, { ...text.steps[0]!, id: 'no-such-step' }] };
    expect(() => matchSteps(behaviour, extra)).to.throw(
      LabTextError,
      new RegExp(`does not have \\(its steps: ${ids}\\)`),
    );
  });
});

describe('lab text: the validator', () => {
  it('accepts the complete example (so each case below fails for its own reason)', () => {
    expect(validateLabText(parse(VALID), 'demo')).to.deep.equal([]);
  });

  it('refuses a missing Korean string, and says where', () => {
    const t = variant((t) => delete (t.steps[0]!.prediction as Record<string, string>).ko);
    expect(validateLabText(t, 'demo')).to.deep.equal(['steps[0] (delete).prediction.ko: missing']);
    const blank = variant((t) => ((t.goal as Record<string, string>).ko = '  '));
    expect(validateLabText(blank, 'demo')).to.deep.equal(['goal.ko: missing']);
  });

  it('refuses a missing question answer in one language, a missing note translation, an unknown language', () => {
    const t = variant((t) => {
      delete ((t.questions as Array<Record<string, Record<string, string>>>)[0]!.a as Record<string, string>)
        .ko;
      (t.steps[0]!.notes as Record<string, Record<string, string>>).ipChanged = { en: 'The IP changed.' };
      (t.title as Record<string, string>).ja = 'デモ';
    });
    expect(validateLabText(t, 'demo')).to.have.members([
      'title: unknown language ja',
      'steps[0] (delete).notes.ipChanged.ko: missing',
      'questions[0].a.ko: missing',
    ]);
  });

  it('refuses placeholders that differ between the languages', () => {
    const t = variant((t) => {
      (t.steps[0]!.held as Record<string, string>).ko = '{name}로 돌아왔다.';
    });
    expect(validateLabText(t, 'demo')).to.deep.equal([
      'steps[0] (delete).held: placeholders differ (en {name,uid}, ko {name})',
    ]);
    expect(placeholders('{b} and {a} and {b}')).to.deep.equal(['a', 'b']);
  });

  it('refuses a lab without questions', () => {
    const none = variant((t) => delete t.questions);
    expect(validateLabText(none, 'demo')).to.deep.equal([
      'questions: none (each lab ends with a question or two)',
    ]);
    const empty = variant((t) => (t.questions = []));
    expect(validateLabText(empty, 'demo')).to.deep.equal([
      'questions: none (each lab ends with a question or two)',
    ]);
  });

  it('refuses a wrong name, a repeated step id, a step without kubectl and an unknown key', () => {
    const t = variant((t) => {
      t.steps.push({ ...t.steps[0]!, kubectl: [], extra: 'x' });
    });
    expect(validateLabText(t, 'other')).to.have.members([
      'name: expected other, found demo',
      'steps[1] (delete).id: repeated',
      'steps[1] (delete).kubectl: missing (a list of commands)',
      'steps[1] (delete): unknown key extra',
    ]);
  });

  it('loading an incomplete file fails with every problem and the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-text-'));
    try {
      const path = join(dir, 'text.yaml');
      writeFileSync(path, VALID.replace('ko: "다시 뜬다."', 'ko: ""').replace(/questions:[\s\S]*$/, ''));
      expect(() => loadLabText(path, 'demo'))
        .to.throw(LabTextError, path)
        .with.property('message')
        .that.includes('steps[0] (delete).prediction.ko: missing')
        .and.includes('questions: none');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lab command line', () => {
  const labs = LAB_NAMES;
  const en = { LANG: 'en_US.UTF-8' };

  it('no word or "list" lists the labs, "docs" writes the pages, --check only compares', () => {
    expect(parseLabArgs([], labs, en)).to.deep.equal({ command: 'list', lang: 'en' });
    expect(parseLabArgs(['list'], labs, en)).to.deep.equal({ command: 'list', lang: 'en' });
    expect(parseLabArgs(['docs'], labs, en)).to.deep.equal({ command: 'docs', lang: 'en', check: false });
    expect(parseLabArgs(['docs', '--check'], labs, en)).to.include({ command: 'docs', check: true });
    expect(parseLabArgs(['--help'], labs, en)).to.deep.equal({ command: 'help', lang: 'en' });
  });

  it('a lab runs pausing by default, without a live view; --no-pause runs it straight through', () => {
    expect(parseLabArgs([labs[0]], labs, en)).to.deep.equal({
      command: 'run',
      lang: 'en',
      lab: labs[0],
      pause: true,
      view: false,
    });
    expect(parseLabArgs([labs[0], '--view'], labs, en)).to.include({ lab: labs[0], view: true });
    expect(parseLabArgs([labs[0], '--no-pause'], labs, en)).to.include({ lab: labs[0], pause: false });
    expect(parseLabArgs(['--no-pause', labs[0]], labs, en)).to.include({ lab: labs[0], pause: false });
  });

  it('an unknown lab is a usage error that names every lab', () => {
    expect(() => parseLabArgs(['nosuchlab'], labs, en))
      .to.throw(UsageError, 'no lab named "nosuchlab"')
      .with.property('message')
      .that.satisfies((m: string) => labs.every((l) => m.includes(l)));
  });

  it('a mistyped lab gets a "did you mean"', () => {
    expect(() => parseLabArgs(['namig'], labs, en)).to.throw(UsageError, /did you mean naming\?/);
  });

  it('one lab at a time, known options only, known languages only', () => {
    expect(() => parseLabArgs([labs[0], labs[0]], labs, en)).to.throw(UsageError, /one lab at a time/);
    expect(() => parseLabArgs([labs[0], '--pause'], labs, en)).to.throw(UsageError, /unknown option --pause/);
    expect(() => parseLabArgs([labs[0], '--lang', 'ja'], labs, en)).to.throw(
      UsageError,
      /--lang ja: choose one of en, ko/,
    );
    expect(() => parseLabArgs([labs[0], '--lang'], labs, en)).to.throw(UsageError, /--lang \(nothing\)/);
  });

  it('--lang ko and --lang=ko pick Korean, also against an English locale', () => {
    expect(parseLabArgs([labs[0], '--lang', 'ko'], labs, en)).to.include({ lang: 'ko', lab: labs[0] });
    expect(parseLabArgs(['--lang=ko'], labs, en)).to.deep.equal({ command: 'list', lang: 'ko' });
  });

  it('the locale picks the language: LANG=ko_KR.UTF-8 is Korean, --lang en overrides it', () => {
    const ko = { LANG: 'ko_KR.UTF-8' };
    expect(parseLabArgs([labs[0]], labs, ko)).to.include({ lang: 'ko' });
    expect(parseLabArgs([labs[0], '--lang', 'en'], labs, ko)).to.include({ lang: 'en' });
    expect(langFromEnv({ LANG: 'ko' })).to.equal('ko');
    expect(langFromEnv({ LANG: 'kok_IN' })).to.equal('en');
    expect(langFromEnv({})).to.equal('en');
    // POSIX order: LC_ALL, then LC_MESSAGES, then LANG.
    expect(langFromEnv({ LC_ALL: 'C', LANG: 'ko_KR.UTF-8' })).to.equal('en');
    expect(langFromEnv({ LC_MESSAGES: 'ko_KR.UTF-8', LANG: 'en_US.UTF-8' })).to.equal('ko');
  });
});
