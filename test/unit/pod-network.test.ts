import { expect } from 'chai';
import type { V1Node } from '@kubernetes/client-node';
import { FLANNEL_PUBLIC_IP, inCidr, podNetworkMismatch } from '../../lib/cluster/pod-network.ts';

const node = (podCIDR?: string, announced = true): V1Node => ({
  metadata: { name: 'w1', annotations: announced ? { [FLANNEL_PUBLIC_IP]: '172.18.0.3' } : {} },
  spec: { podCIDR },
});

describe('pod network: flannel against the Node object', () => {
  it('knows which addresses a CIDR holds', () => {
    expect(inCidr('10.244.1.1', '10.244.1.0/24')).to.equal(true);
    expect(inCidr('10.244.4.1', '10.244.1.0/24')).to.equal(false);
    expect(inCidr('10.244.7.200', '10.244.0.0/16')).to.equal(true);
    expect(() => inCidr('10.244.1', '10.244.1.0/24')).to.throw(/not an IPv4 address/);
  });

  it('accepts a flannel subnet inside the podCIDR of an announced Node', () => {
    expect(podNetworkMismatch(node('10.244.1.0/24'), '10.244.1.1/24')).to.equal(undefined);
  });

  it('names each way a re-registered Node can disagree with its flanneld', () => {
    expect(podNetworkMismatch(node('10.244.1.0/24'), '10.244.4.1/24')).to.match(
      /hands out 10\.244\.4\.1\/24, outside the Node's podCIDR 10\.244\.1\.0\/24/,
    );
    expect(podNetworkMismatch(node('10.244.1.0/24', false), '10.244.1.1/24')).to.match(
      /has not announced itself on Node w1/,
    );
    expect(podNetworkMismatch(node(undefined), '10.244.1.1/24')).to.match(/no podCIDR/);
    expect(podNetworkMismatch(node('10.244.1.0/24'), undefined)).to.match(/no subnet yet/);
  });
});
