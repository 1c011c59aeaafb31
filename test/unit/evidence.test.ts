import { expect } from 'chai';
import {
  EvidenceError,
  eachAfter,
  ipChanged,
  noReplacementDuring,
  orderedBy,
  samePodIdentity,
  sameVolume,
} from '../../lib/observe/evidence.ts';
import type { RecordedEvent } from '../../lib/observe/recorder.ts';
import { Inconclusive } from '../../lib/observe/waits.ts';

/** A pod's identity as the StatefulSet controller gives it to ordinal `name`, owned by set `owner`. */
const pod = (name: string, uid: string, ip?: string, owner = 'sts-uid') => ({
  name,
  uid,
  ip,
  hostname: name,
  podNameLabel: name,
  owner,
});
const event = (name: string, uid: string, at: number, type: RecordedEvent['type'] = 'ADDED') =>
  ({
    resource: 'pods',
    type,
    at,
    mono: at,
    name,
    uid,
    resourceVersion: '1',
    relisted: false,
    object: {},
  }) as RecordedEvent;

describe('evidence assertions', () => {
  it('samePodIdentity accepts same name + new UID and rejects the rest, quoting both', () => {
    expect(() => samePodIdentity(pod('mysql-0', 'a'), pod('mysql-0', 'b'))).to.not.throw();
    expect(() => samePodIdentity(pod('mysql-0', 'a'), pod('mysql-0', 'a'))).to.throw(EvidenceError, /uid=a/);
    expect(() => samePodIdentity(pod('mysql-0', 'a'), pod('web-7d9f-x2k4p', 'b'))).to.throw(
      EvidenceError,
      /web-7d9f-x2k4p/,
    );
  });

  it('samePodIdentity judges what the controller gave the pod, not the name it was looked up by', () => {
    const before = pod('mysql-0', 'a');
    // Looked up as mysql-0, but not what the StatefulSet gives ordinal 0: a hand-made pod of that name.
    const impostor = {
      ...pod('mysql-0', 'b'),
      hostname: undefined,
      podNameLabel: undefined,
      owner: undefined,
    };
    expect(() => samePodIdentity(before, impostor)).to.throw(EvidenceError, /hostname/);
    expect(() => samePodIdentity(before, pod('mysql-0', 'b', undefined, 'another-set'))).to.throw(
      EvidenceError,
      /owner/,
    );
    expect(() => samePodIdentity(before, { ...pod('mysql-0', 'b'), hostname: 'mysql-1' })).to.throw(
      EvidenceError,
    );
  });

  it('sameVolume needs the same PVC UID and a bound PV', () => {
    const v = { pvc: 'pvc-mysql-0', pvcUid: 'u1', pv: 'pvc-u1' };
    expect(() => sameVolume(v, { ...v })).to.not.throw();
    expect(() => sameVolume(v, { ...v, pvcUid: 'u2' })).to.throw(EvidenceError, /u2/);
    expect(() => sameVolume(v, { ...v, pv: 'pvc-other' })).to.throw(EvidenceError, /pvc-other/);
    expect(() => sameVolume({ ...v, pv: '' }, { ...v, pv: '' })).to.throw(EvidenceError);
  });

  it('ipChanged reports, never fails', () => {
    expect(ipChanged(pod('a', '1', '10.0.0.1'), pod('a', '2', '10.0.0.2'))).to.equal(true);
    expect(ipChanged(pod('a', '1', '10.0.0.1'), pod('a', '2', '10.0.0.1'))).to.equal(false);
  });

  it('noReplacementDuring fails on a new UID inside the window only', () => {
    const lost = { name: 'mysql-0', uid: 'old', owner: 'sts-uid' };
    const events = [event('mysql-0', 'old', 100), event('mysql-0', 'new', 500)];
    expect(() => noReplacementDuring(events, lost, { from: 0, to: 400 })).to.not.throw();
    expect(() => noReplacementDuring(events, lost, { from: 0, to: 600 })).to.throw(EvidenceError, /uid new/);
  });

  it("noReplacementDuring matches by owner: a Deployment's replacement has a new name", () => {
    const owned = (name: string, uid: string, at: number, owner: string) => ({
      ...event(name, uid, at),
      object: {
        metadata: {
          name,
          uid,
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: owner, controller: true },
          ],
        },
      },
    });
    const lost = { name: 'web-abc', uid: 'old', owner: 'rs-uid' };
    const window = { from: 0, to: 400 };
    expect(() => noReplacementDuring([owned('web-xyz', 'new', 300, 'rs-uid')], lost, window)).to.throw(
      EvidenceError,
      /web-xyz/,
    );
    // Another controller's pod in the namespace is nobody's replacement.
    expect(() => noReplacementDuring([owned('other-1', 'o', 300, 'rs-other')], lost, window)).to.not.throw();
  });

  it('noReplacementDuring needs the original pod still there: its deletion in the window fails', () => {
    const lost = { name: 'mysql-0', uid: 'old', owner: 'sts-uid' };
    const events = [event('mysql-0', 'old', 100), event('mysql-0', 'old', 300, 'DELETED')];
    expect(() => noReplacementDuring(events, lost, { from: 0, to: 400 })).to.throw(EvidenceError, /deleted/);
  });

  it('orderedBy compares ordinals and quotes the sequence seen', () => {
    const ev = [event('mysql-0', 'a', 1), event('mysql-1', 'b', 2), event('mysql-2', 'c', 3)];
    expect(() => orderedBy([0, 1, 2], ev, 'creation')).to.not.throw();
    expect(() => orderedBy([2, 1, 0], ev, 'deletion')).to.throw(EvidenceError, /saw 0,1,2/);
    expect(() => orderedBy([0, 1], ev, 'creation')).to.throw(EvidenceError);
  });

  it('eachAfter rejects a step that started before the previous finished', () => {
    expect(() => eachAfter([{ label: 'mysql-1 ADDED', start: 10, previousDone: 5 }])).to.not.throw();
    expect(() => eachAfter([{ label: 'mysql-1 ADDED', start: 5, previousDone: 5 }])).to.throw(
      Inconclusive,
      /tie/,
    );
    expect(() => eachAfter([{ label: 'mysql-1 ADDED', start: 4, previousDone: 5 }])).to.throw(
      EvidenceError,
      /mysql-1 ADDED/,
    );
  });
});
