import { expect } from 'chai';
import {
  deriveBounds,
  explainBounds,
  flagValue,
  K8S_DEFAULTS,
  parseConfigz,
  parseDuration,
  settingsFrom,
} from '../../lib/cluster/settings.ts';

const CM = ['kube-controller-manager', '--node-monitor-grace-period=20s', '--node-monitor-period', '2s'];
const API = [
  'kube-apiserver',
  '--default-unreachable-toleration-seconds=30',
  '--default-not-ready-toleration-seconds=30',
];

describe('settings: live values, defaults, derived bounds', () => {
  it('reads Go durations and plain seconds', () => {
    expect(parseDuration('20s')).to.equal(20);
    expect(parseDuration('1m30s')).to.equal(90);
    expect(parseDuration('500ms')).to.equal(0.5);
    expect(parseDuration('1h')).to.equal(3600);
    expect(parseDuration('300')).to.equal(300);
    expect(() => parseDuration('20 s')).to.throw(/cannot read duration/);
    expect(() => parseDuration('')).to.throw(/cannot read duration/);
    expect(() => parseDuration('5x')).to.throw(/cannot read duration/);
  });

  it('finds flags written as --flag=value and --flag value', () => {
    expect(flagValue(CM, 'node-monitor-grace-period')).to.equal('20s');
    expect(flagValue(CM, 'node-monitor-period')).to.equal('2s');
    expect(flagValue(CM, 'node-monitor')).to.equal(undefined);
  });

  it('reads the kubelet part of configz, as text or parsed', () => {
    const body = { kubeletconfig: { nodeStatusUpdateFrequency: '4s', nodeLeaseDurationSeconds: 10 } };
    expect(parseConfigz(JSON.stringify(body))).to.deep.equal(body.kubeletconfig);
    expect(parseConfigz(body)).to.deep.equal(body.kubeletconfig);
    expect(parseConfigz('{}')).to.deep.equal({});
  });

  it('takes tuned flags and says where each value came from', () => {
    const s = settingsFrom(
      CM,
      API,
      { nodeStatusUpdateFrequency: '4s', nodeLeaseDurationSeconds: 10 },
      'kubelet configz of w1',
    );
    expect(s).to.include({
      nodeMonitorGracePeriod: 20,
      nodeMonitorPeriod: 2,
      defaultUnreachableToleration: 30,
      defaultNotReadyToleration: 30,
      nodeStatusUpdateFrequency: 4,
      nodeLeaseDurationSeconds: 10,
    });
    expect(s.sources.nodeMonitorGracePeriod).to.equal(
      'kube-controller-manager --node-monitor-grace-period=20s',
    );
    expect(s.sources.nodeLeaseDurationSeconds).to.equal('kubelet configz of w1 nodeLeaseDurationSeconds=10');
  });

  it('falls back to the Kubernetes 1.33 defaults, and says so', () => {
    const s = settingsFrom(['kube-controller-manager'], ['kube-apiserver'], {}, 'kubelet configz of w1');
    expect(s).to.include(K8S_DEFAULTS);
    expect(s.nodeMonitorGracePeriod).to.equal(50);
    expect(s.sources.defaultUnreachableToleration).to.match(
      /Kubernetes default 300s \(no --default-unreachable/,
    );
  });

  it('derives bounds from the live values, with their arithmetic', () => {
    const live = settingsFrom(
      CM,
      API,
      { nodeStatusUpdateFrequency: '4s', nodeLeaseDurationSeconds: 10 },
      'k',
    );
    const b = deriveBounds(live, {});
    expect(b.nodeUnknown.seconds).to.equal(20 + 2 + 10);
    expect(b.nodeUnknown.why).to.match(/grace 20s .* period 2s .* slack 10s/);
    expect(b.podEvicted.seconds).to.equal(20 + 4 + 30 + 10);
    expect(b.noReplacementWindow.seconds).to.be.greaterThan(
      live.nodeMonitorGracePeriod + live.defaultUnreachableToleration,
    );
    expect(b.nodeReady.seconds).to.equal(60 + 4 + 2 + 10);
    expect(b.podGc.seconds).to.equal(40 + 40 + 10);
    const defaults = deriveBounds(settingsFrom([], [], {}, 'k'), {});
    expect(defaults.podEvicted.seconds).to.equal(50 + 10 + 300 + 10);
  });

  it('lets the environment replace a bound or the slack, and rejects nonsense', () => {
    const live = settingsFrom(CM, API, {}, 'k');
    const b = deriveBounds(live, { LAB_TIMEOUT_NODE_UNKNOWN: '99', LAB_TIMEOUT_SLACK: '1' });
    expect(b.nodeUnknown.seconds).to.equal(99);
    expect(b.nodeUnknown.why).to.match(/^LAB_TIMEOUT_NODE_UNKNOWN=99 \(derived would be 23s/);
    expect(b.podEvicted.seconds).to.equal(20 + 4 + 30 + 1);
    expect(deriveBounds(live, { LAB_WATCH_IDLE: '5' }).watchIdle.seconds).to.equal(5);
    expect(() => deriveBounds(live, { LAB_TIMEOUT_SLACK: 'soon' })).to.throw(/LAB_TIMEOUT_SLACK=soon/);
    expect(() => deriveBounds(live, { LAB_TIMEOUT_POD_GC: '-1' })).to.throw(/positive number/);
  });

  it('explains every live value and every bound', () => {
    const live = settingsFrom(CM, API, {}, 'k');
    const text = explainBounds(live, deriveBounds(live, {}));
    for (const name of Object.keys(live.sources)) expect(text).to.include(name);
    for (const name of ['nodeUnknown', 'podEvicted', 'noReplacementWindow', 'nodeReady', 'podGc']) {
      expect(text).to.include(name);
    }
  });
});
