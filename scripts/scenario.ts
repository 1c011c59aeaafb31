// `npm run scenario`: brings the lab cluster up (a cluster of your own, LAB_CLUSTER, is used as it
// is), then runs the scenario suite; mocha's options pass through (`-- --grep pod-loss`).
// `-- --profile postgres` (or a profile file's path; LAB_PROFILE) runs it on another workload;
// `-- --view` draws each behaviour live on a page for a projector.
// `-- --plan` prints what the run would create and inject, and does nothing.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { connect } from '../lib/cluster/kube.ts';
import { REPO_ROOT } from '../lib/cluster/paths.ts';
import { TARGET } from '../lib/cluster/target.ts';
import { planLines } from '../lib/run/plan.ts';
import { loadProfile } from '../lib/workload/profile.ts';
import { prepareWorkloadImage } from '../lib/workload/prepare.ts';

const args = process.argv.slice(2);
const run = (cmd: string, argv: string[]) =>
  spawnSync(cmd, argv, { stdio: 'inherit', cwd: REPO_ROOT }).status ?? 1;
const fail = (err: unknown) => {
  console.error(`[scenario] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
};

// The live page (lib/view/live.ts) of each behaviour as it runs, on LAB_VIEW_PORT (7070).
if (args.includes('--view')) {
  args.splice(args.indexOf('--view'), 1);
  process.env.LAB_VIEW = '1';
}
const at = args.indexOf('--profile');
if (at >= 0) {
  if (!args[at + 1]) fail('--profile needs a name from profiles/ or a profile file');
  process.env.LAB_PROFILE = args.splice(at, 2)[1];
}
const profile = (() => {
  try {
    return loadProfile();
  } catch (err) {
    return fail(err);
  }
})();
// The behaviours read the profile when they load: after LAB_PROFILE is set.
const { behavioursInOrder } = await import('../behaviours/index.ts');

if (args.includes('--plan')) {
  const g = args.indexOf('--grep');
  const grep = g >= 0 ? new RegExp(args[g + 1] ?? '') : undefined;
  try {
    // Only a cluster of your own is asked anything: its consent, one GET.
    const consent = TARGET.foreign ? (await connect()).consent : undefined;
    const provider = process.env.LAB_NODE_FAULTS === 'api' || TARGET.foreign ? 'api' : 'docker';
    const behaviours = behavioursInOrder().filter((b) => !grep || grep.test(`${b.name}: ${b.title}`));
    const lines = planLines({
      target: TARGET,
      provider,
      profile,
      behaviours,
      ...(consent ? { consent } : {}),
    });
    console.log(lines.join('\n'));
    console.log('\n--plan: nothing was created or changed.');
  } catch (err) {
    fail(err);
  }
  process.exit(0);
}
if (!TARGET.foreign) {
  const up = run(process.execPath, [join(REPO_ROOT, 'scripts', 'cluster.ts'), 'up']);
  if (up !== 0) process.exit(up);
}
await prepareWorkloadImage(profile, (l) => console.log(`[scenario] profile ${profile.name}: ${l}`)).catch(
  fail,
);
// mocha on this Node (24, which runs .ts), not whichever `node` its launcher finds first on PATH.
const mocha = join(REPO_ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
process.exit(
  run(process.execPath, [mocha, '--config', '.mocharc.scenarios.json', 'scenarios/*.spec.ts', ...args]),
);
