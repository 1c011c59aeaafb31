// npm run conformance — upstream's eight StatefulSet [Conformance] specs on the lab cluster.
//   node scripts/conformance.ts           build (cached), load the images, run the specs, report
//   node scripts/conformance.ts --check   everything up to the run, then a dry run of the focus
// Results: artifacts/<run>/conformance/ (upstream's junit_01.xml, e2e.log, summary.json).
import { join } from 'node:path';
import { ARTIFACTS_DIR, RUN_ID } from '../lib/cluster/paths.ts';
import { focusedSpecs, prepare, runSuite } from '../lib/conformance/run.ts';
import { EXPECTED_SPECS, summaryLines } from '../lib/conformance/suite.ts';

const usage = 'usage: node scripts/conformance.ts [--check]   (npm run conformance [-- --check])';
const args = process.argv.slice(2);
if (args.some((a) => a !== '--check')) {
  console.error(`unknown argument ${args.find((a) => a !== '--check')}\n${usage}`);
  process.exit(2);
}
const check = args.includes('--check');

try {
  const t0 = performance.now();
  const prepared = await prepare();
  const specs = await focusedSpecs(prepared);
  if (check) {
    console.log(`[conformance] the focus selects ${specs.length} specs:\n  ${specs.join('\n  ')}`);
    console.log(`[conformance] check: ready to run (${((performance.now() - t0) / 1000).toFixed(1)}s)`);
  } else {
    const dir = join(ARTIFACTS_DIR, RUN_ID, 'conformance');
    console.log(`[conformance] running ${specs.length} specs; results: ${dir}`);
    const outcome = await runSuite(prepared, dir);
    console.log(`\n[conformance] upstream ${prepared.serverVersion}, ${prepared.mode} images:`);
    for (const line of summaryLines(outcome.results)) console.log(`  ${line}`);
    console.log(
      `[conformance] suite wall time ${outcome.wallSeconds.toFixed(1)}s; whole command ${((performance.now() - t0) / 1000).toFixed(1)}s`,
    );
    if (outcome.leftNamespaces.length)
      console.log(`[conformance] namespaces of the suite still there: ${outcome.leftNamespaces.join(', ')}`);
    console.log(`[conformance] JUnit: ${join(dir, 'junit_01.xml')}; log: ${join(dir, 'e2e.log')}`);
    const passed = outcome.results.filter((r) => r.status === 'passed').length;
    if (outcome.exitCode !== 0 || passed !== EXPECTED_SPECS) process.exitCode = 1;
  }
} catch (err) {
  console.error(
    `[conformance] ${check ? 'check ' : ''}failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exitCode = 1;
}
