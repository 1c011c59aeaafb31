import { expect } from 'chai';
import { containerOf, parseState } from '../../lib/cluster/kind-nodes.ts';

describe('nodes: reading Docker and Node objects', () => {
  it('finds the container of a Node from its kind providerID', () => {
    expect(
      containerOf({
        metadata: { name: 'n' },
        spec: { providerID: 'kind://docker/statefulset-lab/statefulset-lab-worker2' },
      }),
    ).to.equal('statefulset-lab-worker2');
    expect(containerOf({ metadata: { name: 'statefulset-lab-worker' } })).to.equal('statefulset-lab-worker');
    expect(containerOf('statefulset-lab-worker3')).to.equal('statefulset-lab-worker3');
  });
  it('reads the inspect line: running, paused, attached, address', () => {
    expect(parseState('true false yes 172.18.0.4\n')).to.deep.equal({
      running: true,
      paused: false,
      connected: true,
      ip: '172.18.0.4',
    });
    expect(parseState('false false yes ')).to.deep.equal({
      running: false,
      paused: false,
      connected: true,
      ip: '',
    });
    expect(parseState('true true no')).to.deep.equal({
      running: true,
      paused: true,
      connected: false,
      ip: '',
    });
  });
});
