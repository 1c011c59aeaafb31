// A mocha reporter: the usual spec output on the console, plus JUnit XML for CI at
// $LAB_JUNIT or artifacts/<run>/junit.xml. Use it with `mocha --reporter ./lib/reporter.ts`.
import { join } from 'node:path';
import Mocha from 'mocha';
import { RUN_ID } from './namespaces.ts';
import { ARTIFACTS_DIR } from './paths.ts';
import { writeJUnit, type CaseResult } from './results.ts';

const { Spec } = Mocha.reporters;

function suitePath(test: Mocha.Runnable): string {
  return test.titlePath().slice(0, -1).join(' › ') || '(root)';
}

export default class SpecAndJUnit extends Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const cases: CaseResult[] = [];
    const file = process.env.LAB_JUNIT ?? join(ARTIFACTS_DIR, RUN_ID, 'junit.xml');
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
    });
  }
}
