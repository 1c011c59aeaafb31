// "Your own StatefulSet", already deployed: the profile loader reads the StatefulSet and its headless
// Service from the cluster (a read: both keep their resourceVersion) and gives the behaviours a copy
// to create in their own namespace, stripped of what belongs to the original.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { loadProfile } from '../../lib/workload/profile.ts';
import { PAUSE_IMAGE, useCluster, useNamespace } from './fixture.ts';

const labels = { app: 'orders' };
const service: V1Service = {
  metadata: { name: 'orders-db' },
  spec: { clusterIP: 'None', selector: labels, ports: [{ port: 80 }] },
};
const statefulSet: V1StatefulSet = {
  metadata: { name: 'orders' },
  spec: {
    replicas: 0,
    serviceName: 'orders-db',
    selector: { matchLabels: labels },
    template: { metadata: { labels }, spec: { containers: [{ name: 'db', image: PAUSE_IMAGE }] } },
    volumeClaimTemplates: [
      {
        metadata: { name: 'data' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    ],
  },
};

function profileFor(namespace: string, name: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'profile-')), 'orders.yaml');
  writeFileSync(
    file,
    `deployed: { namespace: ${namespace}, statefulSet: ${name} }\nprocess: pause\nmarker: { in: pod, write: 'true', read: 'true' }\n`,
  );
  return file;
}

describe('a profile of an already deployed StatefulSet', function () {
  this.timeout(60_000);
  const cluster = useCluster();
  const ns = useNamespace(cluster, 'profile-deployed');

  it('is read from the cluster, untouched, and copied without its identity', async () => {
    const { kube } = cluster();
    const namespace = ns();
    await kube.core.createNamespacedService({ namespace, body: service });
    await kube.apps.createNamespacedStatefulSet({ namespace, body: statefulSet });
    const versions = async () => [
      (await kube.core.readNamespacedService({ namespace, name: 'orders-db' })).metadata?.resourceVersion,
      (await kube.apps.readNamespacedStatefulSet({ namespace, name: 'orders' })).metadata?.resourceVersion,
    ];
    const before = await versions();
    const p = loadProfile(profileFor(namespace, 'orders'));
    expect(await versions(), 'resourceVersions of the Service and StatefulSet').to.deep.equal(before);
    expect(p).to.include({ name: 'orders', statefulSet: 'orders', service: 'orders-db', container: 'db' });
    expect(p.claimTemplate).to.equal('data');
    const [svc, sts] = p.objects as [V1Service, V1StatefulSet];
    expect(svc.spec?.clusterIP, 'the copy stays headless').to.equal('None');
    expect(svc.spec?.clusterIPs, "the original's addresses are not copied").to.equal(undefined);
    for (const o of [svc, sts]) expect(Object.keys(o.metadata!).sort()).to.deep.equal(['labels', 'name']);
    expect(sts.spec?.template.spec?.containers[0]?.image).to.equal(PAUSE_IMAGE);
  });

  it('refuses, naming what it could not read, when the StatefulSet is not there', () => {
    expect(() => loadProfile(profileFor(ns(), 'no-such-set'))).to.throw(
      /cannot read statefulset .*\/no-such-set on kind-statefulset-lab/,
    );
  });
});
