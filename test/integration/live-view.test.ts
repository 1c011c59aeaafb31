// The live view in a real browser: a run's page on loopback, opened by a headless chromium that
// stays on it while a pod is created and deleted. The page must show the deletion (it tells the
// server when it did), a second browser loading the page mid-run must paint the lanes and the pod's
// bar, and at the end the page must turn into the report. How fast it shows events is measured by
// `npm run bench:view`, not judged here.
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

  /** A one-shot browser on the page as it is now (a reload mid-run); asynchronous, since the page's
   * server runs in this process. */
  const browse = async (...args: string[]) => {
    const flags = offlineFlags(mkdtempSync(join(profile, 'shot-')), WIDTH, HEIGHT);
    const opts = { encoding: 'utf8' as const, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 };
    return (await run(chromium, [...flags, ...args, view!.url], opts)).stdout;
  };

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

  it('a page loaded mid-run draws the lanes, the pod bar with its IP, and the step words', async () => {
    const dom = await browse('--dump-dom');
    expect(dom).to.contain('<svg class="timeline"');
    expect(dom.match(/<g class="lane node" data-node="[^"]+">/g)?.length).to.be.at.least(2);
    expect(dom).to.match(new RegExp(`${POD} · [0-9a-f]{8} · \\d+\\.\\d+\\.\\d+\\.\\d+`));
    expect(dom).to.contain('a pod comes and goes');
    const png = join(outDir, 'live.png');
    await browse(`--screenshot=${png}`);
    const image = decodePng(readFileSync(png));
    expect(distinctColours(image), 'a blank page has a colour or two').to.be.above(100);
    expect(countColour(image, READY_COLOURS.True!), 'Ready True bands of the node lanes').to.be.above(150);
    const bars = [POD_COLOURS.ready, POD_COLOURS.running, POD_COLOURS.deleting];
    expect(
      bars.reduce((n, c) => n + countColour(image, c), 0),
      "the pod's bar",
    ).to.be.above(50);
  });

  it('when the run ends, the page becomes the report', async () => {
    view!.finish('<!doctype html><title>the report</title><p>report of the run</p>');
    await view!.whenShown((s) => s.resource === 'report', 10); // the open page has it
    const page = await (await fetch(view!.url)).text(); // and so does a reload
    expect(page).to.contain('report of the run');
  });
});
