// A mocha reporter: the usual spec output on the console, plus, for CI and people, JUnit XML at
// $LAB_JUNIT or artifacts/<run>/junit.xml, every result as JSON (results.json) and the run report
// (report.html, built from what each scenario left in artifacts/<run>/<scenario>/).
// Use it with `mocha --reporter ./lib/report/mocha-reporter.ts`.
import { join } from 'node:path';
import Mocha from 'mocha';
import { ARTIFACTS_DIR, RUN_ID } from '../cluster/paths.ts';
import { writeRunResults } from './data.ts';
import { writeReport } from './html.ts';
import { writeJUnit, type CaseResult } from './results.ts';

const { Spec } = Mocha.reporters;

function suitePath(test: Mocha.Runnable): string {
  return test.titlePath().slice(0, -1).join(' › ') || '(root)';
}

export default class SpecAndJUnit extends Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const cases: CaseResult[] = [];
    const runDir = join(ARTIFACTS_DIR, RUN_ID);
    const file = process.env.LAB_JUNIT ?? join(runDir, 'junit.xml');
    runner.on('pass', (test) =>
      cases.push({
        suite: suitePath(test),
        name: test.title,
        seconds: (test.duration ?? 0) / 1000,
        state: 'passed',
      }),
    );
    runner.on('pending', (test) =>
      cases.push({ suite: suitePath(test), name: test.title, seconds: 0, state: 'skipped' }),
    );
    runner.on('fail', (test, err: Error) =>
      cases.push({
        suite: suitePath(test),
        name: test.title,
        seconds: (test.duration ?? 0) / 1000,
        state: 'failed',
        failure: { message: err.message, details: err.stack },
      }),
    );
    runner.once('end', () => {
      writeJUnit(file, cases);
      console.log(`  JUnit: ${file}`);
      try {
        writeRunResults(runDir, cases);
        console.log(`  report: ${writeReport(runDir)}`);
      } catch (err) {
        // The run's verdict stands without its page: say why the page is missing, do not fail.
        console.error(`  report: not written: ${(err as Error).stack ?? String(err)}`);
      }
    });
  }
}
