// How npm run conformance reads upstream's JUnit: per spec, with its time and why it failed. The
// e2e binary's build and the suite itself are the nightly's (`npm run conformance`): compiling the
// binary on an empty cache takes about ten minutes, which CI on a new machine cannot spare.
import { expect } from 'chai';
import { parseJUnit, summaryLines } from '../../lib/conformance/suite.ts';

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
