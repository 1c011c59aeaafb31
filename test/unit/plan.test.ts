import { expect } from 'chai';
import type { Behaviour } from '../../lib/behaviour/model.ts';
import { planLines, unplanned } from '../../lib/run/plan.ts';

const behaviour: Behaviour = {
  name: 'b',
  title: 'a behaviour',
  steps: () => [],
  plan: { creates: ['StatefulSet s'], faults: ['stop node w3', 'delete pod'] },
};

describe('plan', () => {
  it('names a fault the plan does not declare, and only that one', () => {
    const injected = [
      { what: 'stop node w3' },
      { what: 'delete pod p-0' },
      { what: 'partition node w3 (was 1.2.3.4)' },
    ];
    expect(unplanned(behaviour, injected)).to.deep.equal(['partition node w3 (was 1.2.3.4)']);
    expect(unplanned(behaviour, injected.slice(0, 2))).to.deep.equal([]);
  });

  it('says the target, the consent, the provider and every object and fault', () => {
    const lines = planLines({
      target: { context: 'staging', kubeconfig: '/k', foreign: true },
      consent: { nodes: ['w2'], namespaces: true },
      provider: 'api',
      profile: { name: 'pg', file: '/p/pg.yaml', description: 'a database' },
      behaviours: [behaviour, { ...behaviour, name: 'c', notApplicable: 'it needs a lock message' }],
    }).join('\n');
    expect(lines).to.include('workload: profile pg (a database; /p/pg.yaml)');
    expect(lines).to.include(
      'c: a behaviour\n  not applicable to profile pg: it needs a lock message; creates',
    );
    expect(lines).to.include('target: context staging (/k)').and.include('consent: may fault w2');
    expect(lines).to.include('node faults: through the API').and.include('statefulset-lab-agents');
    expect(lines)
      .to.include('    StatefulSet s')
      .and.include('    stop node w3')
      .and.include('    delete pod');
  });
});
