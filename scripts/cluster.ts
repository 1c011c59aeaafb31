// cluster:up | cluster:down | cluster:status | cluster:bundle — the command line over
// lib/cluster/lifecycle.ts.
//   up [--bundle <file or folder>]        start from a cluster bundle instead of building (or LAB_BUNDLE)
//   bundle [--out <path>] [--level <1-19>] write a bundle of this machine's build
import { bundle, down, status, up } from '../lib/cluster/lifecycle.ts';

const [command = '', ...args] = process.argv.slice(2);

/** The value of `--name <value>` among the arguments, if given. */
function flag(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) usage(`--${name} needs a value`);
  return value;
}

function usage(problem: string): never {
  console.error(
    `usage: node scripts/cluster.ts up [--bundle <file or folder>] | down | status | bundle [--out <path>] [--level <1-19>] (${problem})`,
  );
  process.exit(2);
}

const known: Record<string, string[]> = {
  up: ['--bundle'],
  down: [],
  status: [],
  bundle: ['--out', '--level'],
};
if (!known[command]) usage(`got "${command}"`);
for (const [i, arg] of args.entries())
  if (arg.startsWith('--') && !known[command]!.includes(arg)) usage(`${command} takes no ${arg}`);
  else if (!arg.startsWith('--') && !args[i - 1]?.startsWith('--')) usage(`unexpected "${arg}"`);

const commands: Record<string, () => Promise<void>> = {
  up: () => up({ bundle: flag('bundle') }),
  down,
  status,
  bundle: () => {
    const level = flag('level');
    return bundle({ out: flag('out'), level: level === undefined ? undefined : Number(level) });
  },
};
try {
  await commands[command]!();
} catch (err) {
  console.error(`[cluster] ${command} failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
