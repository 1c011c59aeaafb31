// A cluster that is not the lab's is acted on only with its consent: without the consent object the
// harness refuses after one read; a node the consent does not name is never faulted; `--plan` says
// what would be done and writes nothing. "Nothing written" is shown by watches on the cluster over
// the whole attempt, ended by a fresh List that must equal the one they started from.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { apiNodes } from '../../lib/cluster/api-nodes.ts';
import { CONSENT_CONFIGMAP, ConsentError } from '../../lib/cluster/consent.ts';
import { connect, type Kube } from '../../lib/cluster/kube.ts';
import { KUBECONFIG_PATH, REPO_ROOT } from '../../lib/cluster/paths.ts';
import type { Target } from '../../lib/cluster/target.ts';
import { worker } from '../../lib/cluster/topology.ts';
import { Faults } from '../../lib/faults/faults.ts';
import { NODE_BIN, useCluster } from './fixture.ts';
import { impostor, kubeconfigFile } from './impostor.ts';

/** The resources watched for writes, each with its List. */
const WATCHED: Array<
  [
    string,
    (kube: Kube) => Promise<{ metadata?: { resourceVersion?: string }; items: k8s.KubernetesObject[] }>,
  ]
> = [
  ['/api/v1/namespaces', (k) => k.core.listNamespace()],
  ['/api/v1/configmaps', (k) => k.core.listConfigMapForAllNamespaces()],
  ['/api/v1/pods', (k) => k.core.listPodForAllNamespaces()],
  ['/api/v1/serviceaccounts', (k) => k.core.listServiceAccountForAllNamespaces()],
];

async function listed(kube: Kube, i: number): Promise<{ rv: string; items: Map<string, string> }> {
  const body = await WATCHED[i]![1](kube);
  const items = new Map(
    body.items.map((o) => [
      `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`,
      o.metadata!.resourceVersion!,
    ]),
  );
  return { rv: body.metadata!.resourceVersion!, items };
}

/** Every write to namespaces, ConfigMaps, pods and ServiceAccounts while `act` runs. */
async function writesDuring(kube: Kube, act: () => Promise<unknown>): Promise<string[]> {
  const before = await Promise.all(WATCHED.map((_, i) => listed(kube, i)));
  const seen: string[] = [];
  let closing = false;
  const watches = await Promise.all(
    WATCHED.map(([path], i) =>
      new k8s.Watch(kube.kc).watch(
        path,
        { resourceVersion: before[i]!.rv },
        (type, o: k8s.KubernetesObject) =>
          seen.push(`${type} ${path} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`),
        (err) => err && !closing && seen.push(`watch of ${path} ended: ${String(err)}`),
      ),
    ),
  );
  try {
    await act();
  } finally {
    // The watches end with a consistent read: a fresh List that must hold exactly what they started from.
    const after = await Promise.all(WATCHED.map((_, i) => listed(kube, i)));
    closing = true;
    watches.forEach((w) => w.abort());
    after.forEach((a, i) => {
      const was = before[i]!.items;
      for (const [key, rv] of a.items)
        if (was.get(key) !== rv)
          seen.push(`listed ${WATCHED[i]![0]} ${key} rv ${rv} (was ${was.get(key) ?? 'absent'})`);
      for (const key of was.keys()) if (!a.items.has(key)) seen.push(`listed ${WATCHED[i]![0]} ${key} gone`);
    });
  }
  return seen;
}

describe('integration: a cluster of your own is acted on only with its consent', function () {
  const cluster = useCluster();
  let dir: string;
  /** The lab cluster under another context name: to the harness, a cluster of the user's. */
  let staging: Target;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lab-consent-'));
    const config = parse(readFileSync(KUBECONFIG_PATH, 'utf8')) as {
      contexts: Array<{ name: string }>;
      'current-context': string;
    };
    config.contexts[0]!.name = 'staging-sim';
    config['current-context'] = 'staging-sim';
    writeFileSync(join(dir, 'kubeconfig'), stringify(config));
    staging = { context: 'staging-sim', kubeconfig: join(dir, 'kubeconfig'), foreign: true };
  });
  after(async () => {
    await cluster()
      .kube.core.deleteNamespacedConfigMap(CONSENT_CONFIGMAP)
      .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the write detector sees a write (control: without it, "nothing written" would prove nothing)', async () => {
    const kube = cluster().kube;
    const name = 'statefulset-lab-write-probe';
    const writes = await writesDuring(kube, async () => {
      await kube.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name } } });
      await kube.core.deleteNamespacedConfigMap({ namespace: 'default', name });
    });
    expect(writes.join('\n')).to.match(new RegExp(`ADDED /api/v1/configmaps default/${name}`));
  });

  it('refuses a context with no consent object after one GET of it, saying how to consent', async () => {
    const server = await impostor();
    const file = kubeconfigFile(dir, 'elsewhere', server.url);
    const err = await connect(undefined, {
      target: { context: 'elsewhere', kubeconfig: file, foreign: true },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    server.close();
    expect(err).to.be.instanceOf(ConsentError);
    expect((err as Error).message)
      .to.match(/no consent object/)
      .and.match(/create configmap statefulset-lab-consent/);
    expect(server.requests).to.deep.equal([
      `GET /api/v1/namespaces/${CONSENT_CONFIGMAP.namespace}/configmaps/${CONSENT_CONFIGMAP.name}`,
    ]);
  });

  it('never faults a node the consent does not name, and writes nothing trying', async function () {
    this.timeout(60_000);
    await cluster().kube.core.createNamespacedConfigMap({
      namespace: CONSENT_CONFIGMAP.namespace,
      body: { metadata: { name: CONSENT_CONFIGMAP.name }, data: { nodes: worker(2), namespaces: 'create' } },
    });
    const kube = await connect(undefined, { target: staging });
    expect(kube.consent?.nodes).to.deep.equal([worker(2)]);
    const faults = new Faults(kube, apiNodes(kube));
    const refusals: string[] = [];
    const writes = await writesDuring(cluster().kube, async () => {
      for (const attempt of [
        () => faults.stopNode(worker(3)),
        () => faults.partitionNode(worker(3), { seconds: 30 }),
        () => faults.deleteNodeObject(worker(3)),
        () => faults.taintOutOfService(worker(3)),
      ])
        await attempt().then(
          () => refusals.push('ALLOWED'),
          (e: unknown) => refusals.push(e instanceof ConsentError ? e.message : `other error: ${String(e)}`),
        );
    });
    expect(refusals).to.have.length(4);
    for (const r of refusals)
      expect(r).to.match(new RegExp(`refusing to fault ${worker(3)}: .* names only ${worker(2)}`));
    expect(writes, 'writes seen while refusing').to.deep.equal([]);
  });

  it('--plan names every object and fault, from the consent, and writes nothing', async function () {
    this.timeout(60_000);
    let out = '';
    const writes = await writesDuring(cluster().kube, async () => {
      const r = spawnSync(NODE_BIN, ['scripts/scenario.ts', '--plan'], {
        cwd: REPO_ROOT,
        env: { ...process.env, LAB_CLUSTER: staging.context, LAB_KUBECONFIG: staging.kubeconfig },
        encoding: 'utf8',
      });
      out = r.stdout + r.stderr;
      expect(r.status, out).to.equal(0);
    });
    expect(out)
      .to.include(`target: context staging-sim`)
      .and.include(`consent: may fault ${worker(2)}`);
    expect(out).to.include('node faults: through the API').and.include('nothing was created or changed');
    expect(writes, 'writes seen during --plan').to.deep.equal([]);
  });
});
