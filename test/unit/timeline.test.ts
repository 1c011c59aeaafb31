import { expect } from 'chai';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Timeline } from '../../lib/observe/recorder.ts';

function obj(name: string, uid: string, rv: string, namespace = 'ns'): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, uid, resourceVersion: rv } };
}

function clock() {
  let t = 0;
  return () => ({ at: 1_000_000 + t, mono: t++ });
}

describe('Timeline (recorder bookkeeping and dedupe)', () => {
  it('records each object version once, however often a re-watch replays it', () => {
    const tl = new Timeline(clock());
    expect(tl.apply('pods', 'ADDED', obj('a', 'u1', '10'), 'watch')).to.not.equal(undefined);
    expect(tl.apply('pods', 'ADDED', obj('a', 'u1', '10'), 'watch')).to.equal(undefined);
    expect(tl.apply('pods', 'MODIFIED', obj('a', 'u1', '10'), 'watch')).to.equal(undefined);
    expect(tl.apply('pods', 'MODIFIED', obj('a', 'u1', '11'), 'watch')?.type).to.equal('MODIFIED');
    expect(tl.events.map((e) => e.resourceVersion)).to.deep.equal(['10', '11']);
  });

  it('records a deletion once per uid and ignores late news about a deleted uid', () => {
    const tl = new Timeline(clock());
    tl.apply('pods', 'ADDED', obj('a', 'u1', '10'), 'watch');
    expect(tl.apply('pods', 'DELETED', obj('a', 'u1', '12'), 'watch')).to.not.equal(undefined);
    expect(tl.apply('pods', 'DELETED', obj('a', 'u1', '12'), 'relist')).to.equal(undefined);
    expect(tl.apply('pods', 'MODIFIED', obj('a', 'u1', '11'), 'watch')).to.equal(undefined);
    expect(tl.state.get('pods')?.size).to.equal(0);
    expect(tl.events.map((e) => e.type)).to.deep.equal(['ADDED', 'DELETED']);
  });

  it('keeps the same version of two different resources apart', () => {
    const tl = new Timeline(clock());
    tl.apply('pods', 'ADDED', obj('a', 'u1', '10'), 'watch');
    expect(tl.apply('persistentvolumeclaims', 'ADDED', obj('a', 'u1', '10'), 'watch')).to.not.equal(
      undefined,
    );
  });

  it('a re-list records additions, changes and vanished objects, marked relisted', () => {
    const tl = new Timeline(clock());
    tl.reconcile('pods', [obj('a', 'u1', '10'), obj('b', 'u2', '10')], 'list');
    const out = tl.reconcile('pods', [obj('a', 'u1', '15'), obj('c', 'u3', '16')], 'relist');
    expect(out.map((e) => `${e.type} ${e.name}`)).to.deep.equal(['MODIFIED a', 'ADDED c', 'DELETED b']);
    expect(out.every((e) => e.relisted && e.source === 'relist')).to.equal(true);
    expect([...tl.state.get('pods')!.keys()].sort()).to.deep.equal(['ns/a', 'ns/c']);
  });

  it('a re-list with nothing new records nothing', () => {
    const tl = new Timeline(clock());
    tl.reconcile('pods', [obj('a', 'u1', '10')], 'list');
    expect(tl.reconcile('pods', [obj('a', 'u1', '10')], 'relist')).to.deep.equal([]);
    expect(tl.events).to.have.length(1);
  });

  it('a name reused by a new uid during a gap is the old pod DELETED then the new one ADDED', () => {
    const tl = new Timeline(clock());
    tl.reconcile('pods', [obj('mysql-0', 'old', '10')], 'list');
    const out = tl.reconcile('pods', [obj('mysql-0', 'new', '20')], 'relist');
    expect(out.map((e) => `${e.type} ${e.uid}`)).to.deep.equal(['DELETED old', 'ADDED new']);
    expect(tl.state.get('pods')?.get('ns/mysql-0')?.metadata?.uid).to.equal('new');
  });

  it('a late DELETED of the old uid does not remove its successor from the state', () => {
    const tl = new Timeline(clock());
    tl.apply('pods', 'ADDED', obj('mysql-0', 'new', '20'), 'relist');
    tl.apply('pods', 'DELETED', obj('mysql-0', 'old', '19'), 'watch');
    expect(tl.state.get('pods')?.get('ns/mysql-0')?.metadata?.uid).to.equal('new');
  });

  it('stamps events with wall and monotonic time and keys cluster objects by name', () => {
    const tl = new Timeline(clock());
    const e = tl.apply(
      'nodes',
      'ADDED',
      { metadata: { name: 'n1', uid: 'x', resourceVersion: '1' } },
      'list',
    )!;
    expect(e.at).to.equal(1_000_000);
    expect(e.mono).to.equal(0);
    expect(e.namespace).to.equal(undefined);
    expect(tl.state.get('nodes')?.has('n1')).to.equal(true);
  });

  describe('disagreement with a fresh List (the end of every absence proof)', () => {
    const held = () => {
      const tl = new Timeline(clock());
      tl.apply('pods', 'ADDED', obj('a', 'u1', '10'), 'watch');
      tl.apply('pods', 'ADDED', obj('b', 'u2', '11'), 'watch');
      return tl;
    };

    it('agrees when it holds every listed object at the listed version', () => {
      expect(held().disagreement('pods', [obj('a', 'u1', '10'), obj('b', 'u2', '11')], '15')).to.deep.equal(
        [],
      );
    });

    it('agrees when the recorder is ahead: a newer version, or an object created after the List', () => {
      const tl = held();
      tl.apply('pods', 'MODIFIED', obj('a', 'u1', '20'), 'watch');
      tl.apply('pods', 'ADDED', obj('c', 'u3', '21'), 'watch');
      expect(tl.disagreement('pods', [obj('a', 'u1', '10'), obj('b', 'u2', '11')], '15')).to.deep.equal([]);
    });

    it('agrees when a listed object was seen deleted since', () => {
      const tl = held();
      tl.apply('pods', 'DELETED', obj('b', 'u2', '16'), 'watch');
      expect(tl.disagreement('pods', [obj('a', 'u1', '10'), obj('b', 'u2', '11')], '15')).to.deep.equal([]);
    });

    it('disagrees on an object the stream never delivered (a stalled watch missed it)', () => {
      const out = held().disagreement(
        'pods',
        [obj('a', 'u1', '10'), obj('b', 'u2', '11'), obj('c', 'u3', '14')],
        '15',
      );
      expect(out).to.deep.equal(['pods/ns/c: the server lists uid u3 rv 14, the recorder holds nothing']);
    });

    it('disagrees on a newer version, a name reused by a new uid, and an object the server dropped', () => {
      const out = held().disagreement('pods', [obj('a', 'u9', '13')], '15');
      expect(out).to.deep.equal([
        'pods/ns/a: the server lists uid u9 rv 13, the recorder holds uid u1 rv 10',
        'pods/ns/b: the recorder holds rv 11, the server no longer lists it',
      ]);
      expect(held().disagreement('pods', [obj('a', 'u1', '12'), obj('b', 'u2', '11')], '15')).to.have.length(
        1,
      );
    });
  });
});
