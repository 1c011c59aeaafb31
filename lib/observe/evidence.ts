// Assertions in the seed's terms. Each failure quotes the evidence it judged, so a red scenario
// says what the cluster did instead.
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { RecordedEvent } from './recorder.ts';
import { isPodReady, ordinalOf } from './k8s-facts.ts';
import { Inconclusive } from './waits.ts';

export class EvidenceError extends Error {
  override name = 'EvidenceError';
}

export interface PodIdentity {
  name: string;
  uid: string;
  ip?: string;
  node?: string;
  /** What the StatefulSet controller writes for the ordinal: spec.hostname, the pod-name label, and
   * itself as the controlling owner. The name alone proves nothing: it is what the pod was looked up by. */
  hostname?: string;
  podNameLabel?: string;
  owner?: string;
}

export function identityOf(pod: V1Pod): PodIdentity {
  return {
    name: pod.metadata!.name!,
    uid: pod.metadata!.uid!,
    ip: pod.status?.podIP,
    node: pod.spec?.nodeName,
    hostname: pod.spec?.hostname,
    podNameLabel: pod.metadata?.labels?.['statefulset.kubernetes.io/pod-name'],
    owner: pod.metadata?.ownerReferences?.find((o) => o.controller)?.uid,
  };
}

/**
 * The controller made a new pod (new UID) that carries the old identity: the same hostname and
 * pod-name label (both the ordinal's name) and the same controlling StatefulSet.
 */
export function samePodIdentity(before: PodIdentity, after: PodIdentity): void {
  const show = (p: PodIdentity) =>
    `${p.name} uid=${p.uid} hostname=${p.hostname ?? 'none'} pod-name label=${p.podNameLabel ?? 'none'} owner=${p.owner ?? 'none'}`;
  const given = (p: PodIdentity) => p.hostname === p.name && p.podNameLabel === p.name && !!p.owner;
  if (
    before.name !== after.name ||
    before.uid === after.uid ||
    !given(before) ||
    !given(after) ||
    before.owner !== after.owner
  ) {
    throw new EvidenceError(
      `expected a new UID with the identity the StatefulSet gives the ordinal (hostname and pod-name label = the name, the same owner); before ${show(before)}, after ${show(after)}`,
    );
  }
}

export interface VolumeIdentity {
  pvc: string;
  pvcUid: string;
  pv: string;
}

export function volumeOf(pvc: V1PersistentVolumeClaim): VolumeIdentity {
  return { pvc: pvc.metadata!.name!, pvcUid: pvc.metadata!.uid!, pv: pvc.spec?.volumeName ?? '' };
}

/** Same PVC object (UID) bound to the same PV: the data volume followed the pod. */
export function sameVolume(before: VolumeIdentity, after: VolumeIdentity): void {
  if (before.pvc !== after.pvc || before.pvcUid !== after.pvcUid || !before.pv || before.pv !== after.pv) {
    throw new EvidenceError(
      `expected the same PVC and PV; before ${before.pvc} uid=${before.pvcUid} -> ${before.pv}, after ${after.pvc} uid=${after.pvcUid} -> ${after.pv}`,
    );
  }
}

/** Whether the IP changed; never fails: an unchanged IP is possible and is reported as such. */
export function ipChanged(before: PodIdentity, after: PodIdentity): boolean {
  return !!before.ip && !!after.ip && before.ip !== after.ip;
}

/** Fails unless both pods had an IP and they differ (for scenarios where a new IP is guaranteed). */
export function expectIpChanged(before: PodIdentity, after: PodIdentity): void {
  if (!ipChanged(before, after)) {
    throw new EvidenceError(
      `expected a new IP; before ${before.name} uid=${before.uid} ip=${before.ip ?? 'none'}, after ${after.name} uid=${after.uid} ip=${after.ip ?? 'none'}`,
    );
  }
}

/** A pod whose loss is being watched: its name, uid and controlling owner (StatefulSet, ReplicaSet). */
export interface LostPod {
  name: string;
  uid: string;
  owner?: string;
}

export function lostPodOf(pod: V1Pod): LostPod {
  const { name, uid, owner } = identityOf(pod);
  return { name, uid, owner };
}

const ownerOf = (o: unknown) => (o as V1Pod).metadata?.ownerReferences?.find((r) => r.controller)?.uid;

/**
 * Whether `pod` (a pod as recorded now, or an event's object) replaces `lost`: another uid, made by
 * the same controller (a Deployment's replacement has a new name) or carrying the same name.
 */
export function replaces(lost: LostPod, pod: { name: string; uid: string; object?: unknown }): boolean {
  if (pod.uid === lost.uid) return false;
  return pod.name === lost.name || (!!lost.owner && ownerOf(pod.object) === lost.owner);
}

/**
 * No replacement of `lost` appeared in the window (ms, wall clock), and the original pod object was
 * not deleted in it: a proof of "no replacement" needs the original still there, waiting.
 */
export function noReplacementDuring(
  events: RecordedEvent[],
  lost: LostPod,
  window: { from: number; to: number },
): void {
  const inWindow = events.filter((e) => e.resource === 'pods' && e.at >= window.from && e.at <= window.to);
  const iso = (ms: number) => new Date(ms).toISOString();
  const span = `the window ${iso(window.from)}–${iso(window.to)}`;
  const intruder = inWindow.find((e) => e.type !== 'DELETED' && replaces(lost, e));
  if (intruder)
    throw new EvidenceError(
      `a replacement of ${lost.name}: ${intruder.name} (uid ${intruder.uid}) appeared at ${iso(intruder.at)}, inside ${span}`,
    );
  const gone = inWindow.find((e) => e.type === 'DELETED' && e.uid === lost.uid);
  if (gone)
    throw new EvidenceError(
      `${lost.name} (uid ${lost.uid}) was deleted at ${iso(gone.at)}, inside ${span}: nothing was left to replace`,
    );
}

/** The ordinals of a sequence of events are in the expected order (e.g. [0,1,2] or [2,1]). */
export function orderedBy(
  expected: number[],
  events: Array<{ name: string; at: number }>,
  what: string,
): void {
  const seen = events.map((e) => ordinalOf(e.name));
  if (seen.length !== expected.length || seen.some((o, i) => o !== expected[i])) {
    const trace = events.map((e) => `${e.name}@${new Date(e.at).toISOString().slice(11, 23)}`).join(', ');
    throw new EvidenceError(
      `${what}: expected ordinals ${expected.join(',')}, saw ${seen.join(',') || 'none'} (${trace || 'no events'})`,
    );
  }
}

/**
 * Each step happened strictly after the previous one finished: e.g. pod n+1 ADDED after pod n Ready.
 * Two events received in the same millisecond show no order: a tie is inconclusive, never a pass.
 */
export function eachAfter(steps: Array<{ label: string; start: number; previousDone?: number }>): void {
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const s of steps) {
    if (s.previousDone === undefined) continue;
    if (s.start === s.previousDone)
      throw new Inconclusive(
        `${s.label} and the end of the previous step were received in the same millisecond (${iso(s.start)}): a tie proves no order`,
      );
    if (s.start < s.previousDone)
      throw new EvidenceError(
        `${s.label} started at ${iso(s.start)}, before the previous step finished at ${iso(s.previousDone)}`,
      );
  }
}

export interface PodMoment {
  name: string;
  uid: string;
  at: number;
  resourceVersion: string;
}

function moment(e: RecordedEvent): PodMoment {
  return { name: e.name, uid: e.uid, at: e.at, resourceVersion: e.resourceVersion };
}

/** Pods created while the recorder watched (the initial List is the state before, not a creation). */
export function creations(events: RecordedEvent[], since = 0): PodMoment[] {
  return events
    .filter((e) => e.resource === 'pods' && e.type === 'ADDED' && e.source !== 'list' && e.at >= since)
    .map(moment);
}

/** Pod objects removed from the API (the end of Terminating), in the order seen. */
export function deletions(events: RecordedEvent[], since = 0): PodMoment[] {
  return events.filter((e) => e.resource === 'pods' && e.type === 'DELETED' && e.at >= since).map(moment);
}

/**
 * The first moment each pod (name + uid) was seen Ready, in the order seen. `except` holds UIDs not
 * to count, e.g. the pods of a rollout's start: an old pod is still Ready in the event that marks it
 * for deletion and would otherwise pass for its own replacement.
 */
export function readyTransitions(
  events: RecordedEvent[],
  since = 0,
  except: ReadonlySet<string> = new Set(),
): PodMoment[] {
  const seen = new Set<string>(except);
  const out: PodMoment[] = [];
  for (const e of events) {
    if (e.resource !== 'pods' || e.type === 'DELETED' || e.at < since) continue;
    if (seen.has(e.uid) || !isPodReady(e.object as V1Pod)) continue;
    seen.add(e.uid);
    out.push(moment(e));
  }
  return out;
}
