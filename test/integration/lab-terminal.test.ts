// Lab mode as an attendee meets it: `npm run lab -- naming` in a real terminal (a tmux pane of fixed
// size, Korean from the locale), pausing before each step until Enter is pressed, then the same lab
// straight through without a terminal (--no-pause, English, as CI runs it), and the command line's
// answer to a lab that does not exist. The lab runs against the real cluster; the test only reads
// what the terminal showed and what is left on the cluster afterwards.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LAB_NAMES, labTextPath, loadUi } from '../../labs/catalog.ts';
import { pendingUndos } from '../../lib/faults/journal.ts';
import type { Bounds } from '../../lib/cluster/settings.ts';
import { NAMESPACE_GONE_BOUND } from '../../lib/run/run.ts';
import { fill, loadLabText, type Lang } from '../../lib/lab/text.ts';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';
import { useCluster } from './fixture.ts';

const run = promisify(execFile);
const LAB = 'naming';
const text = loadLabText(labTextPath(LAB), LAB);
const ui = loadUi();
const STEPS = text.steps.length;
/**
 * How long one naming run may take, from the bounds its waits use (behaviours/naming.ts): opening
 * the run (connect, repair, sweep, namespace; 60 s), 3 pods × workloadStart, PVCs bound
 * (controllerReaction), the Deployment's pods (podStart), its replacement (controllerReaction),
 * and the clean-up (NAMESPACE_GONE_BOUND).
 */
const labBound = (b: Bounds) =>
  60 +
  3 * b.workloadStart.seconds +
  2 * b.controllerReaction.seconds +
  b.podStart.seconds +
  NAMESPACE_GONE_BOUND;
/** The terminal is read this often while waiting for the next prompt or the end. */
const POLL_MS = 200;
const COLUMNS = 120;
const ROWS = 50;

/** An environment whose locale says `lang` and nothing else does (LC_ALL and LC_MESSAGES win over LANG). */
function envFor(lang: Lang): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
    LANG: lang === 'ko' ? 'ko_KR.UTF-8' : 'C.UTF-8',
    npm_config_update_notifier: 'false',
  };
  for (const k of ['LC_ALL', 'LC_MESSAGES', 'TMUX', 'TMUX_PANE']) delete env[k];
  return env;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A runner sentence as a pattern: its {placeholders} match anything on the line, {ns} is captured. */
function sentence(key: string, lang: Lang, vars: Record<string, string | number> = {}): RegExp {
  const filled = fill(ui[key]![lang], vars);
  return new RegExp(
    escape(filled)
      .replace(/\\\{ns\\\}/g, '(?<ns>\\S+)')
      .replace(/\\\{\w+\\\}/g, '.+?'),
  );
}
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;
/** The runner wraps long sentences at spaces: compare with every run of whitespace as one space. */
const flat = (s: string) => s.replace(/\s+/g, ' ');
const deadlineIn = (seconds: number) => performance.now() + seconds * 1000;

/** A detached tmux session on a private server (never the user's), one pane of fixed size. */
class Terminal {
  private readonly socket = `statefulset-lab-test-${process.pid}`;
  private readonly dir = mkdtempSync(join(tmpdir(), 'lab-tmux-'));
  private readonly statusFile = join(this.dir, 'status');

  private tmux(args: string[]) {
    return run('tmux', ['-u', '-L', this.socket, '-f', join(this.dir, 'tmux.conf'), ...args], {
      env: envFor('en'),
    });
  }

  async start(command: string[], lang: Lang): Promise<void> {
    // The pane stays after the lab exits, so its last screen can be read; the command runs in sh.
    writeFileSync(
      join(this.dir, 'tmux.conf'),
      ['set -g remain-on-exit on', 'set -g history-limit 50000', 'set -g default-shell /bin/sh', ''].join(
        '\n',
      ),
    );
    const { PATH, LANG } = envFor(lang);
    await this.tmux([
      'new-session',
      '-d',
      '-s',
      'lab',
      '-x',
      String(COLUMNS),
      '-y',
      String(ROWS),
      '-c',
      REPO_ROOT,
      // The pane's process gets exactly this locale, whatever the tmux server was started with; the
      // shell around it writes the exit status to a file (tmux learns a pane's status only once it
      // reaps the process, and did not always for npm).
      `${['env', '-u', 'LC_ALL', '-u', 'LC_MESSAGES', `PATH=${PATH}`, `LANG=${LANG}`, ...command]
        .map(quote)
        .join(' ')}; echo $? > ${quote(this.statusFile)}`,
    ]);
  }

  /** Everything the pane showed, scrollback included, wrapped lines joined. */
  async capture(): Promise<string> {
    return (await this.tmux(['capture-pane', '-p', '-J', '-S', '-', '-t', 'lab'])).stdout;
  }

  /** The lab's exit status once it has ended, else undefined. */
  exitStatus(): number | undefined {
    const status = existsSync(this.statusFile) ? readFileSync(this.statusFile, 'utf8').trim() : '';
    return status ? Number(status) : undefined;
  }

  /** Whether the pane's shell is gone (e.g. killed by Ctrl-C before it could write the status). */
  async paneDead(): Promise<boolean> {
    const out = await this.tmux(['display-message', '-p', '-t', 'lab', '#{pane_dead}']);
    return out.stdout.trim() === '1';
  }

  /**
   * Reads the pane every POLL_MS until `ready` holds for what it shows, the exit status (once
   * written) and whether the pane is dead (every process on the terminal gone); fails at the
   * deadline, or when the pane died without it.
   */
  async waitFor(
    what: string,
    deadline: number,
    ready: (screen: string, status: number | undefined, dead: boolean) => boolean,
  ): Promise<string> {
    for (;;) {
      // Status and death first: once either is seen, the screen read after them is complete.
      const status = this.exitStatus();
      const dead = await this.paneDead();
      const screen = await this.capture();
      if (ready(screen, status, dead)) return screen;
      if (dead)
        throw new Error(
          `the lab ended (status ${status ?? 'unknown'}) before ${what}; the terminal showed:\n${screen}`,
        );
      if (performance.now() > deadline)
        throw new Error(`no ${what} within the bound; the terminal showed:\n${screen}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Until the command's exit status is written: `npm run` waits for the lab, so all was printed. */
  waitForExit(deadline: number): Promise<string> {
    return this.waitFor('the end of the lab', deadline, (_, status) => status !== undefined);
  }

  keys(...keys: string[]) {
    return this.tmux(['send-keys', '-t', 'lab', ...keys]);
  }

  /** Stops a lab still running the way an attendee would (Ctrl-C: it undoes and exits), then the server. */
  async close(): Promise<void> {
    try {
      if (this.exitStatus() === undefined && !(await this.paneDead().catch(() => true))) {
        await this.keys('C-c');
        const deadline = deadlineIn(NAMESPACE_GONE_BOUND);
        while (this.exitStatus() === undefined && !(await this.paneDead()) && performance.now() < deadline)
          await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      await this.tmux(['kill-server']).catch(() => undefined);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Runs `npm run lab -- <args>` without a terminal; stdout and stderr together, in order. */
function npmLab(args: string[], lang: Lang): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'lab', '--', ...args], {
      cwd: REPO_ROOT,
      env: envFor(lang),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}

describe('integration: lab mode on the command line', function () {
  it('an unknown lab exits 2 and names every lab', async function () {
    this.timeout(60_000);
    const { status, output } = await npmLab(['nosuchlab'], 'en');
    expect(status, output).to.equal(2);
    expect(output).to.match(/npm run lab: no lab named "nosuchlab"/);
    for (const lab of LAB_NAMES) expect(output, `names ${lab}`).to.include(lab);
  });

  it('--lang ko lists every lab with its Korean title', async function () {
    this.timeout(60_000);
    const { status, output } = await npmLab(['--lang', 'ko'], 'en');
    expect(status, output).to.equal(0);
    expect(output).to.include(ui.listHeader!.ko);
    for (const lab of LAB_NAMES) {
      const t = loadLabText(labTextPath(lab), lab);
      expect(output).to.match(new RegExp(`^  ${escape(lab)} .*${escape(t.title.ko)}$`, 'm'));
    }
  });
});

describe('integration: a lab in a real terminal and straight through', function () {
  const cluster = useCluster();

  /** The verdicts a run printed: every step ✔, none ✘, the summary, the clean-up, and its namespace gone. */
  async function expectCompleteRun(output: string, lang: Lang): Promise<void> {
    const u = (k: string) => fill(ui[k]![lang], { text: '' }).trim();
    expect(count(output, u('held')), `one "${u('held')}" per step`).to.equal(STEPS);
    expect(count(output, u('missed')), 'no prediction missed').to.equal(0);
    expect(output).to.not.include(fill(ui.stepFailed![lang], { error: '' }).trim());
    expect(output).to.match(sentence('summary', lang, { held: STEPS, total: STEPS }));
    for (const [i, s] of text.steps.entries())
      expect(output).to.include(fill(ui.step![lang], { n: i + 1, total: STEPS, title: s.title[lang] }));
    expect(output).to.include(ui.questions![lang]);
    for (const [i, q] of text.questions.entries()) expect(flat(output)).to.include(`${i + 1}. ${q.q[lang]}`);
    const cleaned = sentence('cleaned', lang).exec(output);
    expect(cleaned, `the clean-up line "${ui.cleaned![lang]}"`).to.not.equal(null);
    const ns = cleaned!.groups!.ns!;
    const left = await cluster()
      .kube.core.readNamespace({ name: ns })
      .then(
        (n) => `still there (${n.status?.phase})`,
        () => 'gone',
      );
    expect(left, `namespace ${ns} after the clean-up`).to.equal('gone');
  }

  it(`npm run lab -- ${LAB} in a ${COLUMNS}x${ROWS} terminal with LANG=ko_KR.UTF-8: Korean, one Enter per step`, async function () {
    this.timeout((labBound(cluster().bounds) + 60) * 1000);
    const t0 = performance.now();
    const deadline = deadlineIn(labBound(cluster().bounds));
    const term = new Terminal();
    const prompt = ui.pressEnter!.ko;
    const running = ui.running!.ko;
    try {
      await term.start(['npm', 'run', 'lab', '--', LAB], 'ko');
      for (let n = 1; n <= STEPS; n++) {
        const screen = await term.waitFor(
          `prompt ${n} ("${prompt}")`,
          deadline,
          (s) => count(s, prompt) >= n,
        );
        // Paused: the step announced itself and waits; it has not started running.
        expect(count(screen, running), `step ${n} waits for Enter`).to.equal(n - 1);
        expect(screen).to.include(fill(ui.step!.ko, { n, total: STEPS, title: text.steps[n - 1]!.title.ko }));
        await term.keys('Enter');
      }
      const screen = await term.waitForExit(deadline);
      const status = term.exitStatus();
      expect(status, screen).to.equal(0);
      expect(count(screen, prompt), 'one prompt per step').to.equal(STEPS);
      await expectCompleteRun(screen, 'ko');
      console.log(`      (terminal run ${((performance.now() - t0) / 1000).toFixed(1)}s)`);
    } finally {
      await term.close();
    }
  });

  it(`Ctrl-C while a step runs (${COLUMNS}x${ROWS} terminal, English): the lab undoes what it made`, async function () {
    // Opening the session, the first step starting, then the undo (a namespace delete, not awaited).
    const bound = 60 + cluster().bounds.workloadStart.seconds;
    this.timeout((bound + NAMESPACE_GONE_BOUND + 30) * 1000);
    const t0 = performance.now();
    const deadline = deadlineIn(bound);
    const term = new Terminal();
    try {
      await term.start(['npm', 'run', 'lab', '--', LAB], 'en');
      await term.waitFor('the first prompt', deadline, (s) => s.includes(ui.pressEnter!.en));
      await term.keys('Enter');
      const screen = await term.waitFor('the first step running', deadline, (s) =>
        s.includes(ui.running!.en),
      );
      const ns = sentence('about', 'en').exec(screen)?.groups?.ns;
      expect(ns, `the namespace in "${ui.about!.en}"`).to.be.a('string');
      await term.keys('C-c');
      // The terminal sends SIGINT to the lab, whose journal handler undoes this process's entries
      // (here: its namespace) and exits; the runner's own clean-up does not get to run.
      const after = await term.waitFor(
        `the undo of namespace ${ns} and the end of the lab`,
        deadline,
        (s, _status, dead) => dead && s.includes(`undone create namespace ${ns}`),
      );
      expect(after).to.include('[harness] interrupted');
      expect(count(after, ui.held!.en.split('{')[0]!), 'no verdict after Ctrl-C').to.equal(0);
      const left = await cluster()
        .kube.core.readNamespace({ name: ns! })
        .then(
          (n) => (n.metadata?.deletionTimestamp ? 'deleting' : 'kept'),
          () => 'gone',
        );
      expect(left, `namespace ${ns} after Ctrl-C`).to.be.oneOf(['deleting', 'gone']);
      expect(
        pendingUndos().filter((e) => e.what?.includes(ns!)),
        'nothing of the lab left pending in the journal',
      ).to.deep.equal([]);
      console.log(`      (interrupted run ${((performance.now() - t0) / 1000).toFixed(1)}s)`);
    } finally {
      await term.close();
    }
  });

  it(`npm run lab -- ${LAB} --no-pause without a terminal: English, every prediction held, cleaned up`, async function () {
    this.timeout((labBound(cluster().bounds) + 60) * 1000);
    const t0 = performance.now();
    const { status, output } = await npmLab([LAB, '--no-pause'], 'en');
    expect(status, output).to.equal(0);
    expect(output, 'never waits for Enter').to.not.include(ui.pressEnter!.en);
    await expectCompleteRun(output, 'en');
    console.log(`      (straight run ${((performance.now() - t0) / 1000).toFixed(1)}s)`);
  });
});
