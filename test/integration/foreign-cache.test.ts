// A kind cluster named like ours but created from another lab cache (a second LAB_CACHE, i.e. a
// second checkout or user on this machine) is never touched: cluster:up, cluster:down and the smoke
// check each refuse before they start, stop, unpause, delete or write anything — whatever state
// the cluster is in (running, a node stopped, a node paused, a node image the other cache would
// call stale). Evidence: every node container's id, state and start time, unchanged; for the smoke
// check, a namespace watch without a gap that saw nothing of its namespace.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import * as k8s from '@kubernetes/client-node';
import { worker } from '../../lib/cluster/topology.ts';
import {
  CLUSTER_NAME,
  KIND_CLUSTER_LABEL,
  KUBECONFIG_PATH,
  LAB_CACHE,
  REPO_ROOT,
} from '../../lib/cluster/paths.ts';
import { Faults } from '../../lib/faults/faults.ts';
import { NODE_BIN, useCluster } from './fixture.ts';

/** What the cache holds for itself: never shared with the other cache. */
const OWN = new Set(['cluster-id', 'kubeconfig', 'fault-journal.jsonl', 'node-ips.json', 'logs', 'owners']);

/**
 * Another lab cache: its own cluster id, a copy of our kubeconfig (so it can reach the cluster, as a
 * second checkout on this machine could), and links to our builds (so it would not rebuild them).
 */
function otherCache(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lab-other-cache-'));
  for (const entry of readdirSync(LAB_CACHE))
    if (!OWN.has(entry) && !entry.endsWith('.lock')) symlinkSync(join(LAB_CACHE, entry), join(dir, entry));
  writeFileSync(join(dir, 'cluster-id'), randomUUID());
  copyFileSync(KUBECONFIG_PATH, join(dir, 'kubeconfig'));
  return dir;
}

/** Each node container as Docker has it: recreated, started, stopped or paused shows here. */
async function nodeContainers(): Promise<Record<string, string>> {
  const ids = (await $`docker ps -aq --filter label=${KIND_CLUSTER_LABEL}=${CLUSTER_NAME}`).stdout.split(
    /\s+/,
  );
  const format = '{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}} {{.Config.Image}}';
  const lines = (await $`docker inspect -f ${format} ${ids.filter(Boolean)}`).stdout.trim().split('\n');
  return Object.fromEntries(lines.map((l) => [l.split(' ')[0]!, l]));
}

/** Runs a project command against the other cache; it must fail, saying it refuses. */
async function refusedWith(cache: string, script: string, ...args: string[]): Promise<string> {
  const r = await $({
    env: { ...process.env, LAB_CACHE: cache },
    nothrow: true,
    cwd: REPO_ROOT,
  })`${NODE_BIN} ${script} ${args}`;
  const out = `${r.stdout}\n${r.stderr}`;
  expect(
    r.exitCode,
    `${script} ${args.join(' ')} with another cache exits with an error:\n${out}`,
  ).to.not.equal(0);
  expect(out, 'it says why it will not act').to.match(/refus|will not|not created/i);
  return out;
}

describe('integration: a same-named cluster of another lab cache is never touched', function () {
  this.timeout(300_000);
  const cluster = useCluster();
  let cache: string;
  before(() => (cache = otherCache()));
  after(() => rmSync(cache, { recursive: true, force: true }));

  async function untouchedBy(script: string, ...args: string[]): Promise<void> {
    const before = await nodeContainers();
    await refusedWith(cache, script, ...args);
    expect(
      await nodeContainers(),
      'every node container as it was (id, state, start time, image)',
    ).to.deep.equal(before);
  }

  it('running: cluster:up and cluster:down refuse and change nothing', async () => {
    await untouchedBy('scripts/cluster.ts', 'up');
    await untouchedBy('scripts/cluster.ts', 'down');
  });

  for (const [state, fault, act] of [
    ['stopped', 'stopNode', 'start'],
    ['paused', 'pauseNode', 'unpause'],
  ] as const) {
    it(`a node ${state}: cluster:up refuses and does not ${act} it`, async () => {
      const undo = await new Faults(cluster().kube)[fault](worker(3));
      try {
        await untouchedBy('scripts/cluster.ts', 'up');
      } finally {
        await undo();
      }
    });
  }

  it('a node image the other cache calls stale: cluster:up refuses instead of recreating', async () => {
    rmSync(join(cache, 'node-image'), { force: true });
    writeFileSync(join(cache, 'node-image'), 'statefulset-lab/node:another-cache');
    await untouchedBy('scripts/cluster.ts', 'up');
  });

  it('the smoke check refuses before it creates or deletes anything', async () => {
    const { kc, core } = cluster().kube;
    const list = await core.listNamespace();
    const seen: string[] = [];
    let gap: unknown;
    const req = await new k8s.Watch(kc).watch(
      '/api/v1/namespaces',
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type: string, ns: k8s.V1Namespace) => {
        if (ns.metadata?.name === 'lab-smoke') seen.push(type);
      },
      (err: unknown) => (gap ??= err ?? 'the watch closed'),
    );
    let gapDuringRun: unknown;
    try {
      await untouchedBy('scripts/smoke.ts');
    } finally {
      gapDuringRun = gap;
      req.abort();
    }
    // The watch ran without a break through the command: its silence about lab-smoke is evidence.
    expect(gapDuringRun, 'the namespace watch was never interrupted').to.equal(undefined);
    expect(seen, 'events of namespace lab-smoke while the refused smoke ran').to.deep.equal([]);
    const now = await core.readNamespace({ name: 'lab-smoke' }).then(
      () => 'exists',
      (e: { code?: number }) => (e.code === 404 ? 'absent' : `unreadable: ${String(e)}`),
    );
    expect(now, 'lab-smoke, read from the API server after the run').to.equal('absent');
  });
});
