// The live settings come from the running cluster, not from defaults or guesses.
import { expect } from 'chai';
import { flagValue, readLiveSettings } from '../../lib/cluster/settings.ts';
import { CLUSTER_NAME } from '../../lib/cluster/paths.ts';
import { useCluster } from './fixture.ts';

describe('integration: live settings', function () {
  const cluster = useCluster();

  it('reads the controller-manager and apiserver flags and a kubelet’s configz', async () => {
    const { kube, live } = cluster();
    const cm = await kube.core.readNamespacedPod({
      namespace: 'kube-system',
      name: `kube-controller-manager-${CLUSTER_NAME}-control-plane`,
    });
    const grace = flagValue(cm.spec!.containers[0]!.command ?? [], 'node-monitor-grace-period');
    if (grace) expect(live.sources.nodeMonitorGracePeriod).to.include(`--node-monitor-grace-period=${grace}`);
    else expect(live.sources.nodeMonitorGracePeriod).to.match(/Kubernetes default 50s/);
    expect(live.sources.nodeStatusUpdateFrequency).to.match(/^kubelet configz of statefulset-lab-worker\d? /);
    for (const v of [live.nodeMonitorGracePeriod, live.nodeMonitorPeriod, live.nodeLeaseDurationSeconds]) {
      expect(v).to.be.greaterThan(0);
    }
  });

  it('falls back to another Ready node when the one asked for is not there', async () => {
    const live = await readLiveSettings(cluster().kube, 'no-such-node');
    expect(live.sources.nodeLeaseDurationSeconds).to.match(/^kubelet configz of statefulset-lab-/);
  });
});
