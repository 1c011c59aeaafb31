// npm run conformance is wired: its check mode proves the cluster is ours, builds upstream's e2e
// binary (from the cache when warm), builds and loads the specs' images, and a dry run of its focus
// selects exactly upstream's eight StatefulSet [Conformance] specs. The suite itself is not run here
// (about six minutes; npm run conformance, and the nightly workflow, run it).
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { chooseImages, imagesMissingOnNodes, parseVersions } from '../../lib/cluster/images.ts';
import { CLUSTER_NAME, KIND_CLUSTER_LABEL, LAB_CACHE, REPO_ROOT } from '../../lib/cluster/paths.ts';
import { EXPECTED_SPECS, parseJUnit, summaryLines } from '../../lib/conformance/suite.ts';
import { NODE_BIN, ensureClusterForTests } from './fixture.ts';

const versions = parseVersions(readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8'));

describe('npm run conformance (wiring, not the run)', function () {
  // A cold cache compiles the e2e binary first: about 8 minutes on 2 cores.
  this.timeout(30 * 60_000);
  let output = '';

  before(async () => {
    await ensureClusterForTests();
    const t0 = performance.now();
    const r = await $({ cwd: REPO_ROOT, nothrow: true })`${NODE_BIN} scripts/conformance.ts --check`;
    output = `${r.stdout}\n${r.stderr}`;
    console.log(`    conformance --check: ${((performance.now() - t0) / 1000).toFixed(1)}s`);
    expect(r.exitCode, output).to.equal(0);
  });

  it('builds the e2e binary of the pinned Kubernetes version into the cache', () => {
    const bin = join(LAB_CACHE, 'out', `e2e-${versions.K8S_VERSION}`, 'e2e.test');
    expect(output).to.contain(`e2e binary: ${bin}`);
    expect(statSync(bin).size, 'e2e.test size').to.be.greaterThan(50 * 2 ** 20);
  });

  it('selects exactly the eight StatefulSet [Conformance] specs', () => {
    const specs = output.split('\n').filter((l) => /^\s+\[sig-apps\] StatefulSet .*\[Conformance\]/.test(l));
    expect(specs, output).to.have.length(EXPECTED_SPECS);
  });

  it("has the specs' images on every node (air-gapped: the builds Docker holds, by image id)", async function () {
    const images = (await $`bash ${join(REPO_ROOT, 'scripts/build/e2e-images.sh')} --list`).stdout
      .split('\n')
      .filter(Boolean);
    expect(images).to.include('registry.k8s.io/e2e-test-images/httpd:2.4.38-4');
    if (chooseImages(process.env, versions).mode !== 'airgapped') this.skip(); // the kubelets pull them
    const nodes = (
      await $`docker ps --filter label=${KIND_CLUSTER_LABEL}=${CLUSTER_NAME} --format {{.Names}}`
    ).stdout
      .split('\n')
      .filter(Boolean);
    const ids = new Map<string, string>();
    for (const image of images)
      ids.set(image, (await $`docker image inspect -f {{.Id}} ${image}`).stdout.trim());
    expect(new Set(ids.values()).size, 'the two httpd tags are two different builds').to.equal(images.length);
    expect(await imagesMissingOnNodes(nodes, images, ids)).to.deep.equal([]);
  });
});

describe('upstream JUnit, read back per spec', () => {
  // The shape ginkgo v2 writes with upstream's settings: failure text in the body, no message.
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="4" failures="1"><testsuite name="Kubernetes e2e suite" tests="4">
  <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="0.5"></testcase>
  <testcase name="[It] [sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should have a working scale subresource [Conformance]" classname="Kubernetes e2e suite" status="passed" time="20.25"></testcase>
  <testcase name="[It] [sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] Should recreate evicted statefulset [Conformance]" classname="Kubernetes e2e suite" status="failed" time="300.1"><failure message="" type="failed">[FAILED] Timed out after 300s: pod &#34;ss-0&#34; never ran&#xA;In [It] at: statefulset.go:900</failure></testcase>
  <testcase name="[It] [sig-node] Pods should be updated [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
</testsuite></testsuites>`;

  it('keeps the specs that ran, with their time and why one failed; drops skipped specs and passing suite nodes', () => {
    const results = parseJUnit(xml);
    expect(results.map((r) => [r.status, r.seconds])).to.deep.equal([
      ['passed', 20.25],
      ['failed', 300.1],
    ]);
    expect(results[1]!.failure).to.equal('[FAILED] Timed out after 300s: pod "ss-0" never ran');
    const lines = summaryLines(results);
    expect(lines.at(-1)).to.equal('1/2 passed');
    expect(lines[0]).to.match(/^✔ passed +20\.3s +should have a working scale subresource/);
  });
});
