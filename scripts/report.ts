// Rebuilds the report of a run from its artifacts: `npm run report -- artifacts/<run>` (default:
// the newest run). The page is also written at the end of every scenario run by lib/report/mocha-reporter.ts.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ARTIFACTS_DIR } from '../lib/cluster/paths.ts';
import { writeReport } from '../lib/report/html.ts';

function newestRun(): string | undefined {
  if (!existsSync(ARTIFACTS_DIR)) return undefined;
  // Run ids start with their UTC time (yyyymmddhhmmss), so the names sort by age.
  const runs = readdirSync(ARTIFACTS_DIR)
    .filter((d) => /^\d{14}-/.test(d))
    .sort();
  return runs.length ? join(ARTIFACTS_DIR, runs.at(-1)!) : undefined;
}

const dir = process.argv[2] ? resolve(process.argv[2]) : newestRun();
if (!dir || !existsSync(dir)) {
  console.error(
    `usage: npm run report -- artifacts/<run>   (${dir ? `${dir} does not exist` : 'no run found'})`,
  );
  process.exit(2);
}
console.log(`  report: ${writeReport(dir)}`);
