// The live view in a real browser: a run's page on loopback, opened by a headless chromium that
// stays on it while a pod is created and deleted; the page must show the deletion (it tells the
// server when it did) and at the end turn into the report. Then a real lab with --view: a second
// browser loading the page mid-lab must paint the lanes, the pod bars and the step's words. How
// fast the page shows events is measured by `npm run bench:view`, not judged here. Both the page and
// its asynchronous browsers run beside this process's server: nothing here may block the event loop.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { ARTIFACTS_DIR } from '../../lib/cluster/paths.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import { until } from '../../lib/observe/waits.ts';
import { POD_COLOURS, READY_COLOURS } from '../../lib/report/svg.ts';
import { closeRun, openRun, type Run } from '../../lib/run/run.ts';
import { LiveView } from '../../lib/view/live.ts';
import { runLab } from '../../lib/lab/runner.ts';
import { setEcho } from '../../lib/run/console.ts';
import { BEHAVIOURS } from '../../behaviours/index.ts';
import { loadTexts, loadUi } from '../../labs/catalog.ts';
import { chromiumPath, offlineFlags } from '../../lib/view/browser.ts';
import { ensureClusterForTests, pausePod } from './fixture.ts';
import { countColour, decodePng, distinctColours } from './png.ts';

const [WIDTH, HEIGHT] = [1600, 1000];
const POD = 'viewed-0';
const run = promisify(execFile);

describe('live view in a real headless browser (Debian chromium, offline)', function () {
  this.timeout(180_000);
  let chromium: string;
  let profile: string;
  let opened: Run | undefined;
  let view: LiveView | undefined;
  let watching: ChildProcess | undefined;
  const outDir = join(ARTIFACTS_DIR, 'live-view');

  before(async function () {
    this.timeout(600_000);
    chromium = chromiumPath();
    profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    await ensureClusterForTests();
    opened = await openRun('live-view', { undoOnExit: false });
    view = await LiveView.open(opened, 'live view test', 0);
  });
  after(async () => {
    watching?.kill();
    await view?.close();
    if (opened) await closeRun(opened, { verdicts: [], artifacts: false, waitGone: false });
    rmSync(profile, { recursive: true, force: true });
  });

  it('a page left open shows a pod created and then deleted, and says when', async () => {
    const { ctx } = opened!;
    watching = spawn(chromium, [...offlineFlags(join(profile, 'watching'), WIDTH, HEIGHT), view!.url], {
      stdio: 'ignore',
    });
    view!.step({ title: 'Step 1/1 · a pod comes and goes', lines: [['What happens', 'a pause pod']] });
    await view!.whenShown(() => true, 30); // the page is connected and answering
    await ctx.kube.core.createNamespacedPod({ namespace: ctx.ns, body: pausePod(POD) });
    const ready = () => isPodReady(ctx.rec.get<V1Pod>('pods', POD, ctx.ns));
    await until(ctx.rec, ready, { timeout: ctx.bounds.podStart.seconds, why: `${POD} Ready` });
    await view!.whenShown((s) => s.resource === 'pods' && s.name === POD, 30);
    await ctx.faults.deletePod(ctx.ns, POD);
    const gone = await view!.whenShown((s) => s.deletion && s.name === POD, 60);
    console.log(`    the page showed ${POD}'s ${gone.type} ${gone.ms} ms after the recorder saw it`);
    expect(gone.ms, 'ms from the recorder seeing the deletion to the page showing it').to.be.at.least(0);
  });

  it('when the run ends, the page becomes the report', async () => {
    view!.finish('<!doctype html><title>the report</title><p>report of the run</p>');
    await view!.whenShown((s) => s.resource === 'report', 10); // the open page has it
    const page = await (await fetch(view!.url)).text(); // and so does a reload
    expect(page).to.contain('report of the run');
  });
});

describe('live view of a lab (pod-loss, in Korean) in a real headless browser', function () {
  this.timeout(600_000);
  const pod = 'mysql-0';

  it('mid-lab, a reloaded page draws the lanes, the pod bars with their IPs and the step words; the lab ends as the report', async () => {
    const chromium = chromiumPath();
    const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    const outDir = join(ARTIFACTS_DIR, 'live-view');
    mkdirSync(outDir, { recursive: true });
    const text = loadTexts().find((t) => t.name === 'pod-loss')!;
    const flags = (name: string) => offlineFlags(join(profile, name), WIDTH, HEIGHT);
    const opts = { encoding: 'utf8' as const, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 };
    let watching: ChildProcess | undefined;
    let midLab: Promise<{ dom: string; png: string }> | undefined;
    try {
      const result = await runLab(BEHAVIOURS['pod-loss'], text, loadUi(), {
        lang: 'ko',
        pause: false,
        view: true,
        onView(view) {
          watching = spawn(chromium, [...flags('watching'), view.url], { stdio: 'ignore' });
          // Once the page has shown the first deletion of mysql-0: a late-comer loads the page.
          const png = join(outDir, 'pod-loss-mid-lab.png');
          midLab = view
            .whenShown((s) => s.deletion && s.name === pod, 300)
            .then(async () => ({
              dom: (await run(chromium, [...flags('dom'), '--dump-dom', view.url], opts)).stdout,
              png: (await run(chromium, [...flags('shot'), `--screenshot=${png}`, view.url], opts)) && png,
            }));
        },
      });
      expect(result.failed, 'the lab ran every step').to.equal(false);
      expect(result.held, 'every prediction held').to.equal(result.total);
      expect(
        result.shown.some((s) => s.resource === 'report'),
        'the open page turned into the report',
      ).to.equal(true);
      const { dom, png } = await midLab!;
      expect(dom.match(/<g class="lane node" data-node="[^"]+">/g)?.length, 'node lanes').to.be.at.least(4);
      expect(dom).to.match(new RegExp(`${pod} · [0-9a-f]{8} · \\d+\\.\\d+\\.\\d+\\.\\d+`));
      expect(dom, "step 2's words, in Korean").to.contain(text.steps[1]!.title.ko);
      const image = decodePng(readFileSync(png));
      console.log(`    mid-lab screenshot: ${png}`);
      expect(distinctColours(image), 'a blank page has a colour or two').to.be.above(100);
      expect(countColour(image, READY_COLOURS.True!), 'Ready True bands of the node lanes').to.be.above(150);
      expect(countColour(image, POD_COLOURS.ready), 'Ready bars (the client, mysql-0)').to.be.above(50);
      expect(countColour(image, POD_COLOURS.deleting), 'the deleted pod Terminating').to.be.above(20);
    } finally {
      setEcho(true); // the lab runner turns the story's echo off for its own words
      watching?.kill();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
