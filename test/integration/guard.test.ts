// The guard refuses any cluster that is not the lab's, before a single call that could change it:
// a foreign context gets no request at all, a loopback impostor only the one GET of the owner
// ConfigMap, the real cluster with another owner id is refused; node faults refuse the control plane.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Faults } from '../../lib/faults/faults.ts';
import { connect, ForeignClusterError } from '../../lib/cluster/kube.ts';
import { kindNodes } from '../../lib/cluster/kind-nodes.ts';
import { CLUSTER_NAME, KUBE_CONTEXT, KUBECONFIG_PATH, OWNER_CONFIGMAP } from '../../lib/cluster/paths.ts';
import { useCluster } from './fixture.ts';
import { impostor, kubeconfigFile } from './impostor.ts';

async function refusal(p: Promise<unknown>): Promise<ForeignClusterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'refused').to.be.instanceOf(ForeignClusterError);
  return err as ForeignClusterError;
}

describe('integration: the guard refuses what is not the lab cluster', function () {
  const cluster = useCluster();
  let dir: string;
  let server: Awaited<ReturnType<typeof impostor>>;
  let url: string;
  let requests: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-guard-'));
    server = await impostor();
    ({ url, requests } = server);
  });
  beforeEach(() => (requests.length = 0));
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses another context without sending it a single request', async () => {
    const err = await refusal(connect(kubeconfigFile(dir, 'kind-someone-else', url)));
    expect(err.message).to.include('"kind-someone-else"').and.include('npm run cluster:up');
    expect(requests).to.deep.equal([]);
  });

  it('refuses the lab context name on a remote server, without trying to reach it', async () => {
    const t0 = performance.now();
    const err = await refusal(connect(kubeconfigFile(dir, KUBE_CONTEXT, 'https://192.0.2.10:6443')));
    expect(err.message).to.match(/192\.0\.2\.10.*not to a kind cluster on this machine's loopback/);
    expect(performance.now() - t0, 'no network attempt (192.0.2.0/24 would hang)').to.be.below(500);
  });

  it('refuses a loopback impostor after one read: the GET of the owner ConfigMap, nothing else', async () => {
    const err = await refusal(connect(kubeconfigFile(dir, KUBE_CONTEXT, url)));
    expect(err.message).to.match(/Cannot read kube-system\/statefulset-lab-owner .*npm run cluster:up/);
    expect(requests).to.deep.equal([
      `GET /api/v1/namespaces/${OWNER_CONFIGMAP.namespace}/configmaps/${OWNER_CONFIGMAP.name}`,
    ]);
  });

  it('refuses the real cluster when this cache expects another owner id', async () => {
    const idFile = join(dir, 'cluster-id');
    writeFileSync(idFile, 'not-the-id-of-this-cluster\n');
    const err = await refusal(connect(KUBECONFIG_PATH, { clusterIdPath: idFile }));
    expect(err.message).to.match(/owner id is \S+, this cache's \(.*\) is not-the-id-of-this-cluster/);
    await refusal(connect(KUBECONFIG_PATH, { clusterIdPath: join(dir, 'missing-id') }));
  });

  it('accepts the real cluster with its own kubeconfig and id', async () => {
    const kube = await connect();
    const cm = await kube.core.readNamespacedConfigMap(OWNER_CONFIGMAP);
    expect(cm.data?.clusterId).to.be.a('string').and.not.equal('');
  });

  it('node faults refuse the control plane before touching it', async () => {
    const cp = `${CLUSTER_NAME}-control-plane`;
    const faults = new Faults(cluster().kube, kindNodes, join(dir, 'journal.jsonl'));
    const attempts = [
      () => faults.stopNode(cp),
      () => faults.pauseNode(cp),
      () => faults.partitionNode(cp),
      () => faults.deleteNodeObject(cp),
      () => faults.taintOutOfService(cp),
    ];
    for (const attempt of attempts) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(err)).to.match(
        /refusing to fault statefulset-lab-control-plane: it is the control-plane/,
      );
    }
    expect(await kindNodes.state(cp)).to.include({ running: true, paused: false, connected: true });
  });
});
