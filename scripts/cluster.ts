// cluster:up | cluster:down | cluster:status — the command line over lib/cluster/lifecycle.ts.
import { down, status, up } from '../lib/cluster/lifecycle.ts';

const commands: Record<string, () => Promise<void>> = { up, down, status };
const command = process.argv[2] ?? '';
const run = commands[command];
if (!run) {
  console.error(`usage: node scripts/cluster.ts up|down|status (got "${command}")`);
  process.exit(2);
}
try {
  await run();
} catch (err) {
  console.error(`[cluster] ${command} failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
