import { expect } from 'chai';
import type { V1Namespace } from '@kubernetes/client-node';
import { isStale, keepNamespaces, PID_ANNOTATION } from '../../lib/run/namespaces.ts';
import { NAMESPACE_LABEL, RUN_ID } from '../../lib/cluster/paths.ts';

function ns(run: string, pid?: number, deleting = false): V1Namespace {
  return {
    metadata: {
      name: 'lab-x',
      labels: { [NAMESPACE_LABEL]: run },
      ...(pid === undefined ? {} : { annotations: { [PID_ANNOTATION]: String(pid) } }),
      ...(deleting ? { deletionTimestamp: new Date() } : {}),
    },
  };
}

describe('namespaces: which ones a sweep may delete', () => {
  const alive = (pid: number) => pid === 42;
  it('sweeps a namespace whose creator is gone, or that names no creator', () => {
    expect(isStale(ns('old-run', 7), alive)).to.equal(true);
    expect(isStale(ns('old-run'), alive)).to.equal(true);
  });
  it('keeps the namespaces of a run still going, of this run, and those already terminating', () => {
    expect(isStale(ns('other-run', 42), alive)).to.equal(false);
    expect(isStale(ns(RUN_ID, 7), alive)).to.equal(false);
    expect(isStale(ns('old-run', 7, true), alive)).to.equal(false);
  });
  it('keeps namespaces on --keep or LAB_KEEP=1', () => {
    expect(keepNamespaces(['node', 'mocha', '--keep'], {})).to.equal(true);
    expect(keepNamespaces([], { LAB_KEEP: '1' })).to.equal(true);
    expect(keepNamespaces([], { LAB_KEEP: '0' })).to.equal(false);
  });
});
