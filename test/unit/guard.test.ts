import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { checkKubeconfig, ForeignClusterError } from '../../lib/cluster/kube.ts';
import { KUBE_CONTEXT } from '../../lib/cluster/paths.ts';

function kubeconfig(context: string, server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: context, cluster: 'c', user: 'u' }],
    currentContext: context,
  });
  return kc;
}

describe('guard: local checks of a kubeconfig', () => {
  it('accepts the lab context on loopback', () => {
    checkKubeconfig(kubeconfig(KUBE_CONTEXT, 'https://127.0.0.1:42277'), 'test');
    checkKubeconfig(kubeconfig(KUBE_CONTEXT, 'https://localhost:6443'), 'test');
    checkKubeconfig(kubeconfig(KUBE_CONTEXT, 'https://[::1]:6443'), 'test');
  });

  it('refuses another context, saying what to do', () => {
    expect(() => checkKubeconfig(kubeconfig('prod-eu', 'https://127.0.0.1:6443'), 'some.kubeconfig'))
      .to.throw(ForeignClusterError)
      .with.property('message')
      .that.includes('"prod-eu"')
      .and.includes('npm run cluster:up');
  });

  it('refuses the lab context name pointing at a remote server', () => {
    for (const server of [
      'https://10.0.0.5:6443',
      'https://127.example.com:6443',
      'https://kind.internal:6443',
      'not a url',
    ]) {
      expect(() => checkKubeconfig(kubeconfig(KUBE_CONTEXT, server), 'k'), server).to.throw(
        ForeignClusterError,
        /not to a kind cluster on this machine's loopback/,
      );
    }
  });
});
