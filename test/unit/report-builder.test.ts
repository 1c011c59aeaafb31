// The run report's builder on a real run (test/fixtures/report-run: a pod-loss run on the lab
// cluster) and on cases derived from it: what the timeline claims, what the SVG and page show,
// that all text is escaped and nothing points outside the page's folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { readRun, type ScenarioData } from '../../lib/report/data.ts';
import { reportHtml, writeReport } from '../../lib/report/html.ts';
import { commonNodePrefix, scenarioTimeline } from '../../lib/report/lanes.ts';
import { packRows, timelineSvg } from '../../lib/report/svg.ts';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';
import {
  addDerivedNodeStop,
  copyFixtureRun,
  DERIVED,
  HOSTILE,
  POD_LOSS,
  RUN,
  STOPPED,
} from '../fixtures/report-run/fixture.ts';

const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');

describe('report builder', () => {
  let runDir: string;
  let podLoss: ScenarioData;
  let derived: ScenarioData;
  let stop: { stopAt: number; startAt: number };

  before(() => {
    runDir = copyFixtureRun();
    stop = addDerivedNodeStop(runDir);
    const run = readRun(runDir);
    podLoss = run.scenarios.find((s) => s.dir === 'pod-loss')!;
    derived = run.scenarios.find((s) => s.dir === DERIVED)!;
  });
  after(() => rmSync(dirname(runDir), { recursive: true, force: true }));

  describe('timeline model (real pod-loss run)', () => {
    it('reads the run: scenario files, verdicts, no diagnostics for a passed scenario', () => {
      const run = readRun(runDir);
      expect(run.run).to.equal(RUN);
      expect(run.files).to.deep.equal(['junit.xml']);
      expect(podLoss.files).to.have.members(['timeline.json', 'story.json', 'faults.json', 'scenario.json']);
      expect(podLoss.diagnostics).to.deep.equal([]);
      expect(podLoss.legacy).to.equal(false);
      expect(podLoss.meta!.verdicts.map((v) => v.state)).to.deep.equal(['passed', 'passed']);
    });

    it('one lane per node; mysql-0 on worker2 as three UIDs, each after the previous was deleted', () => {
      const t = scenarioTimeline(podLoss);
      expect(t.nodes.map((n) => n.node)).to.deep.equal([
        'statefulset-lab-control-plane',
        'statefulset-lab-worker',
        'statefulset-lab-worker2',
        'statefulset-lab-worker3',
      ]);
      const lane = t.nodes.find((n) => n.node === POD_LOSS.node)!;
      expect(lane.pods.map((p) => p.uid)).to.deep.equal(POD_LOSS.uids);
      expect(lane.pods.map((p) => p.ips.map((i) => i.ip))).to.deep.equal(POD_LOSS.ips.map((ip) => [ip]));
      expect(lane.pods.map((p) => p.deleted)).to.deep.equal([true, true, false]);
      for (const [i, p] of lane.pods.entries()) if (i) expect(p.from).to.be.at.least(lane.pods[i - 1]!.to);
      // The graceful delete leaves the first pod Terminating before it goes; the last ends Ready.
      expect(lane.pods[0]!.states.map((s) => s.state)).to.include('deleting');
      expect(lane.pods[2]!.states.at(-1)!.state).to.equal('ready');
      expect(t.nodes.find((n) => n.node === 'statefulset-lab-worker')!.pods.map((p) => p.name)).to.deep.equal(
        ['client'],
      );
      expect(t.unscheduled).to.deep.equal([]);
    });

    it('node Ready spans follow the rows: worker3 loses its out-of-service taint, stays Ready', () => {
      const t = scenarioTimeline(podLoss);
      const w3 = t.nodes.find((n) => n.node === STOPPED)!;
      expect(w3.ready.map((s) => [s.status, s.taints])).to.deep.equal([
        ['True', 'node.kubernetes.io/out-of-service:NoExecute'],
        ['True', undefined],
      ]);
      expect(w3.ready[0]!.from).to.equal(t.from);
      expect(w3.ready.at(-1)!.to).to.equal(t.to);
    });

    it('the PVC is bound to its volume when its Bound row arrives; faults and phases are kept', () => {
      const t = scenarioTimeline(podLoss);
      expect(t.pvcs).to.have.length(1);
      const pvc = t.pvcs[0]!;
      expect(pvc).to.include({ name: 'pvc-mysql-0', volume: POD_LOSS.volume });
      const boundRow = podLoss.rows.find((r) => r.name === 'pvc-mysql-0' && r.summary.phase === 'Bound')!;
      expect(pvc.boundAt).to.equal(Date.parse(boundRow.at));
      expect(t.faults.map((f) => [f.what, f.instant])).to.deep.equal([
        ['delete pod mysql-0', true],
        ['force delete pod mysql-0', true],
      ]);
      expect(t.phases).to.have.length(4);
    });
  });

  describe('derived cases', () => {
    it('a stopped node: Ready Unknown span and a fault span from injection to undo', () => {
      const t = scenarioTimeline(derived);
      const w3 = t.nodes.find((n) => n.node === STOPPED)!;
      expect(w3.ready.map((s) => s.status)).to.deep.equal(['True', 'Unknown', 'True']);
      const fault = t.faults.find((f) => f.what === `stop node ${STOPPED}`)!;
      expect(fault).to.include({ from: stop.stopAt, to: stop.startAt, instant: false, open: false });
    });

    it('a fault never undone runs to the end, marked open', () => {
      const t = scenarioTimeline({
        ...derived,
        faults: [{ what: 'partition node x', at: derived.meta!.startedAt }],
      });
      expect(t.faults[0]).to.include({ to: t.to, open: true });
    });

    it('a Node deleted and registered again stays one lane, absent in between', () => {
      const rows = podLoss.rows.filter((r) => r.name === 'statefulset-lab-worker');
      const at = (ms: number) => new Date(podLoss.meta!.startedAt + ms).toISOString();
      const base = { ...rows[0]!, source: 'watch', resource: 'nodes', name: 'statefulset-lab-worker' };
      const t = scenarioTimeline({
        ...podLoss,
        rows: [
          rows[0]!,
          { ...base, type: 'DELETED', at: at(3000) },
          { ...base, type: 'ADDED', uid: 'new-uid', at: at(6000), summary: { ready: 'False' } },
          { ...base, type: 'MODIFIED', uid: 'new-uid', at: at(8000), summary: { ready: 'True' } },
        ],
      });
      expect(t.nodes.map((n) => n.node)).to.deep.equal(['statefulset-lab-worker']);
      expect(t.nodes[0]!.ready.map((s) => s.status)).to.deep.equal(['True', 'absent', 'False', 'True']);
      for (const [i, s] of t.nodes[0]!.ready.entries())
        if (i) expect(s.from).to.equal(t.nodes[0]!.ready[i - 1]!.to);
    });

    it('an older timeline (raw events, no summaries) is read and said to be so', () => {
      const dir = join(runDir, 'legacy');
      mkdirSync(dir, { recursive: true });
      const raw = podLoss.rows.map(({ summary: _s, at, ...r }) => ({
        ...r,
        at: Date.parse(at),
        relisted: false,
      }));
      writeFileSync(join(dir, 'timeline.json'), JSON.stringify(raw));
      try {
        const legacy = readRun(runDir).scenarios.find((s) => s.dir === 'legacy')!;
        expect(legacy.legacy).to.equal(true);
        const t = scenarioTimeline(legacy);
        expect(t.nodes.every((n) => n.ready.every((s) => s.status === '?'))).to.equal(true);
        expect(reportHtml(readRun(runDir))).to.contain('recorded before rows carried summaries');
      } finally {
        rmSync(dir, { recursive: true });
      }
    });
  });

  describe('SVG and page', () => {
    it('labels never share a row where they would overlap', () => {
      expect(
        packRows([
          { x0: 0, x1: 100 },
          { x0: 50, x1: 120 },
          { x0: 110, x1: 200 },
          { x0: 130, x1: 150 },
        ]),
      ).to.deep.equal([0, 1, 0, 1]);
      expect(commonNodePrefix(['statefulset-lab-control-plane', 'statefulset-lab-worker2'])).to.equal(
        'statefulset-lab-',
      );
    });

    it('draws a lane per node, a group per pod UID labelled with UID prefix and IP, faults and verdicts', () => {
      const svg = timelineSvg(scenarioTimeline(derived), 's1');
      for (const node of ['statefulset-lab-worker', POD_LOSS.node, STOPPED])
        expect(svg).to.contain(`<g class="lane node" data-node="${node}">`);
      for (const [i, uid] of POD_LOSS.uids.entries()) {
        expect(svg).to.contain(`data-uid="${uid}"`);
        expect(svg).to.contain(`mysql-0 · ${uid.slice(0, 8)} · ${POD_LOSS.ips[i]}`);
      }
      expect(svg).to.contain(`<g class="fault" data-what="stop node ${STOPPED}">`);
      expect(svg).to.contain('>stop node worker3</text>'); // the cluster's name prefix dropped
      expect(svg.match(/<g class="fault instant"/g)).to.have.length(2);
      expect(svg).to.contain('class="ready Unknown"');
      expect(svg).to.contain('class="bound"');
      expect(svg.match(/<g class="verdict passed">/g)).to.have.length(1);
      expect(svg.match(/<g class="verdict failed">/g)).to.have.length(1);
    });

    it('the page: both scenarios with their verdicts, evidence tables, diagnostics only for the failed one', () => {
      const html = reportHtml(readRun(runDir));
      expect(html.match(/<section id="scenario-[^"]+" class="scenario (\w+)"/g)).to.deep.equal([
        `<section id="scenario-${DERIVED}" class="scenario failed"`,
        '<section id="scenario-pod-loss" class="scenario passed"',
      ]);
      expect(html.match(/<table class="evidence">/g)).to.have.length(4);
      expect(html).to.contain(`<td class="long">${POD_LOSS.uids[0]}</td>`);
      expect(html).to.contain(`<a href="${DERIVED}/kubelet-${STOPPED}.log">`);
      expect(html).to.contain(`<a href="${DERIVED}/events.txt">`);
      expect(html.match(/<h3>Diagnostics bundle<\/h3>/g)).to.have.length(1);
      expect(html).to.contain('<a href="pod-loss/timeline.json">');
      expect(html).to.contain('<a href="junit.xml">');
    });

    it('escapes every text and refers to nothing outside its folder: no script, no URL', () => {
      const html = reportHtml(readRun(runDir));
      expect(html).to.not.contain('<script');
      expect(html).to.contain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;');
      expect(html).to.not.contain(HOSTILE);
      expect(html).to.not.match(/https?:|\/\/|url\((?!#)/i);
      for (const [, ref] of html.matchAll(/(?:href|src)="([^"]*)"/g))
        expect(ref, ref).to.match(/^(#|[\w.-]+(\/[\w.-]+)?$)/);
    });

    it('writeReport and `npm run report -- <run>` write report.html into the run', () => {
      const file = writeReport(runDir);
      expect(file).to.equal(join(runDir, 'report.html'));
      rmSync(file);
      const out = execFileSync(NODE, ['scripts/report.ts', runDir], { cwd: REPO_ROOT, encoding: 'utf8' });
      expect(out).to.contain(join(runDir, 'report.html'));
      expect(readFileSync(file, 'utf8')).to.match(/^<!doctype html>/);
      const missing = spawnSync(NODE, ['scripts/report.ts', join(runDir, 'nope')], { encoding: 'utf8' });
      expect(missing.status).to.equal(2);
      expect(existsSync(join(runDir, 'nope'))).to.equal(false);
    });
  });
});
