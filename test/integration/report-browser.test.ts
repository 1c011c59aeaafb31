// The run report in a real browser: Debian's chromium (installed by scripts/chromium.sh when
// missing), headless and kept off the network, renders report.html from the fixture run as a
// file. The rendered DOM must hold the timeline's lanes, pods, faults and verdicts, and the
// screenshot must be painted with them. The page and screenshot stay in artifacts/report-browser/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { ARTIFACTS_DIR } from '../../lib/cluster/paths.ts';
import { writeReport } from '../../lib/report/html.ts';
import { POD_COLOURS, READY_COLOURS } from '../../lib/report/svg.ts';
import {
  addDerivedNodeStop,
  copyFixtureRun,
  DERIVED,
  POD_LOSS,
  STOPPED,
} from '../fixtures/report-run/fixture.ts';
import { chromiumPath, offlineFlags } from '../../lib/view/browser.ts';
import { countColour, decodePng, distinctColours } from './png.ts';

const WIDTH = 1280;
const HEIGHT = 2200;

describe('report in a real headless browser (Debian chromium, offline)', function () {
  let chromium: string;
  let profile: string;
  let page: string;
  const outDir = join(ARTIFACTS_DIR, 'report-browser');

  before(function () {
    this.timeout(600_000); // a first install downloads chromium from Debian's mirrors
    chromium = chromiumPath();
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    const runDir = copyFixtureRun(outDir);
    addDerivedNodeStop(runDir);
    page = writeReport(runDir);
    profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  });
  after(() => profile && rmSync(profile, { recursive: true, force: true }));

  const browse = (...args: string[]) =>
    execFileSync(chromium, [...offlineFlags(profile, WIDTH, HEIGHT), ...args, pathToFileURL(page).href], {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'], // its stderr is D-Bus noise in a container
    });

  it('the rendered DOM holds both timelines: node lanes, pod UIDs with IPs, the faults and verdicts', function () {
    this.timeout(120_000);
    const dom = browse('--dump-dom');
    expect(dom.match(/<svg class="timeline"/g)).to.have.length(2);
    for (const node of ['statefulset-lab-control-plane', 'statefulset-lab-worker', POD_LOSS.node, STOPPED])
      expect(dom.match(new RegExp(`<g class="lane node" data-node="${node}">`, 'g'))).to.have.length(2);
    for (const [i, uid] of POD_LOSS.uids.entries()) {
      expect(dom).to.contain(`data-uid="${uid}" data-ip="${POD_LOSS.ips[i]}" data-node="${POD_LOSS.node}"`);
      expect(dom).to.contain(`mysql-0 · ${uid.slice(0, 8)} · ${POD_LOSS.ips[i]}`);
    }
    expect(dom).to.contain(`<g class="fault" data-what="stop node ${STOPPED}">`);
    expect(dom.match(/<g class="fault instant" data-what="(force )?delete pod mysql-0">/g)).to.have.length(4);
    expect(dom).to.contain('class="ready Unknown"');
    expect(dom.match(/<g class="verdict passed">/g)).to.have.length(3);
    expect(dom.match(/<g class="verdict failed">/g)).to.have.length(1);
    expect(dom).to.contain(`<a href="${DERIVED}/kubelet-${STOPPED}.log">`);
    // Nothing the parser would run or fetch: the markup in the derived failure stayed text.
    expect(dom).to.not.match(/<script|<img|<link|<iframe/i);
  });

  it('the screenshot is painted: the window size, many colours, and the timeline colours in it', function () {
    this.timeout(120_000);
    const png = join(outDir, 'report.png');
    browse(`--screenshot=${png}`);
    console.log(`    screenshot: ${png} (${statSync(png).size} bytes)`);
    const image = decodePng(readFileSync(png));
    expect([image.width, image.height]).to.deep.equal([WIDTH, HEIGHT]);
    expect(distinctColours(image), 'a blank page has a colour or two').to.be.above(200);
    // Each colour the timeline draws with covers a visible area: the SVG was painted, not just parsed.
    for (const [what, colour] of Object.entries({
      'Ready True band': READY_COLOURS.True!,
      'Ready Unknown band': READY_COLOURS.Unknown!,
      'pod Ready bar': POD_COLOURS.ready,
      'pod Terminating bar': POD_COLOURS.deleting,
      'PVC Bound bar': '#2a9d8f',
      'fault span': '#c0392b',
    }))
      expect(countColour(image, colour), what).to.be.above(150);
  });
});
