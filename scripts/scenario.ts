// `npm run scenario`: brings the lab cluster up (a cluster of your own, LAB_CLUSTER, is used as it
// is), then runs the scenario suite; mocha's options pass through (`-- --grep pod-loss`).
// `-- --plan` prints what the run would create and inject, and does nothing.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { behavioursInOrder } from '../behaviours/index.ts';
import { connect } from '../lib/cluster/kube.ts';
import { REPO_ROOT } from '../lib/cluster/paths.ts';
import { TARGET } from '../lib/cluster/target.ts';
import { planLines } from '../lib/run/plan.ts';

const args = process.argv.slice(2);
const run = (cmd: string, argv: string[]) =>
  spawnSync(cmd, argv, { stdio: 'inherit', cwd: REPO_ROOT }).status ?? 1;

if (args.includes('--plan')) {
  const at = args.indexOf('--grep');
  const grep = at >= 0 ? new RegExp(args[at + 1] ?? '') : undefined;
  try {
    // Only a cluster of your own is asked anything: its consent, one GET.
    const consent = TARGET.foreign ? (await connect()).consent : undefined;
    const provider = process.env.LAB_NODE_FAULTS === 'api' || TARGET.foreign ? 'api' : 'docker';
    const behaviours = behavioursInOrder().filter((b) => !grep || grep.test(`${b.name}: ${b.title}`));
    console.log(
      planLines({ target: TARGET, provider, behaviours, ...(consent ? { consent } : {}) }).join('\n'),
    );
    console.log('\n--plan: nothing was created or changed.');
  } catch (err) {
    console.error(`[plan] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  process.exit(0);
}
if (!TARGET.foreign) {
  const up = run(process.execPath, [join(REPO_ROOT, 'scripts', 'cluster.ts'), 'up']);
  if (up !== 0) process.exit(up);
}
// mocha on this Node (24, which runs .ts), not whichever `node` its launcher finds first on PATH.
const mocha = join(REPO_ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
process.exit(
  run(process.execPath, [mocha, '--config', '.mocharc.scenarios.json', 'scenarios/*.spec.ts', ...args]),
);
