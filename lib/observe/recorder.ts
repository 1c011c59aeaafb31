// Records every change of the watched resources, with timestamps, from a List taken before the
// scenario acts. Scenarios prove order from these events, never from snapshots.
//
// The JavaScript client's watch can end without an error, or be cut by the server (410 Gone when
// its resourceVersion is compacted). Each resource therefore has one loop that watches from the
// last version it saw, watches again whenever a watch ends, re-lists (recording what changed
// meanwhile, marked `relisted`) when that version is gone, and restarts a watch that has been
// silent for longer than its idle limit. Whatever arrives twice is recorded once (see Timeline).
import * as k8s from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Kube } from '../cluster/kube.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** How an event reached the recorder: the first List, a watch, or a re-list after a lost watch. */
export type EventSource = 'list' | 'watch' | 'relist';

export interface RecordedEvent {
  /** Resource label, e.g. "pods". */
  resource: string;
  type: EventType;
  /** Wall clock (ms since epoch) and monotonic clock (ms, performance.now()) when it was received. */
  at: number;
  mono: number;
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  source: EventSource;
  /** True when the event was reconstructed by a re-list after the watch lost track. */
  relisted: boolean;
  object: KubernetesObject;
}

export interface ResourceSpec {
  resource: string;
  apiVersion: string;
  kind: string;
  /** Watch path, e.g. /api/v1/namespaces/ns/pods. */
  path: string;
  namespace?: string;
}

export function namespacedResources(namespace: string): ResourceSpec[] {
  const core = (resource: string, kind: string): ResourceSpec => ({
    resource,
    apiVersion: 'v1',
    kind,
    path: `/api/v1/namespaces/${namespace}/${resource}`,
    namespace,
  });
  return [
    core('pods', 'Pod'),
    core('persistentvolumeclaims', 'PersistentVolumeClaim'),
    core('events', 'Event'),
    {
      resource: 'endpointslices',
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      namespace,
    },
  ];
}

export const clusterResources: ResourceSpec[] = [
  { resource: 'nodes', apiVersion: 'v1', kind: 'Node', path: '/api/v1/nodes' },
  {
    resource: 'persistentvolumes',
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    path: '/api/v1/persistentvolumes',
  },
];

export function keyOf(name: string, namespace?: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * The recorder's bookkeeping, without any I/O: the current object of every key, the ordered
 * events, and the dedupe rules. A re-watch or a re-list may hand over what was already recorded;
 * an object version (uid + resourceVersion) is recorded once, and a deletion once per uid.
 */
export class Timeline {
  readonly events: RecordedEvent[] = [];
  /** resource -> key (namespace/name) -> current object. */
  readonly state = new Map<string, Map<string, KubernetesObject>>();
  private readonly seenVersions = new Set<string>();
  private readonly deletedUids = new Set<string>();
  private readonly now: () => { at: number; mono: number };

  constructor(now = () => ({ at: Date.now(), mono: performance.now() })) {
    this.now = now;
  }

  private store(resource: string): Map<string, KubernetesObject> {
    let store = this.state.get(resource);
    if (!store) this.state.set(resource, (store = new Map()));
    return store;
  }

  /** Records one event unless it repeats what is known. Returns the event recorded, if any. */
  apply(
    resource: string,
    type: EventType,
    object: KubernetesObject,
    source: EventSource,
  ): RecordedEvent | undefined {
    const meta = object.metadata ?? {};
    const name = meta.name ?? '';
    const uid = meta.uid ?? '';
    const rv = meta.resourceVersion ?? '';
    const key = keyOf(name, meta.namespace);
    const store = this.store(resource);
    const uidKey = `${resource}|${uid}`;
    if (type === 'DELETED') {
      if (this.deletedUids.has(uidKey)) return undefined;
      this.deletedUids.add(uidKey);
      // Only forget the current object if it is the one deleted: a re-list may already hold its successor.
      if (store.get(key)?.metadata?.uid === uid) store.delete(key);
    } else {
      const versionKey = `${uidKey}|${rv}`;
      // A replayed version, or a late event about an object already seen deleted, is not news.
      if (this.seenVersions.has(versionKey) || this.deletedUids.has(uidKey)) return undefined;
      this.seenVersions.add(versionKey);
      store.set(key, object);
    }
    const event: RecordedEvent = {
      resource,
      type,
      ...this.now(),
      name,
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      uid,
      resourceVersion: rv,
      source,
      relisted: source === 'relist',
      object,
    };
    this.events.push(event);
    return event;
  }

  /**
   * Brings one resource's state in line with a fresh List and records the differences: new objects
   * ADDED, changed ones MODIFIED, vanished ones DELETED, and a name reused by a new uid (a pod the
   * StatefulSet recreated while the watch was away) as DELETED of the old uid then ADDED of the new.
   */
  reconcile(resource: string, items: KubernetesObject[], source: EventSource): RecordedEvent[] {
    const store = this.store(resource);
    const out: RecordedEvent[] = [];
    const push = (e: RecordedEvent | undefined) => e && out.push(e);
    const listed = new Set<string>();
    for (const item of items) {
      const key = keyOf(item.metadata?.name ?? '', item.metadata?.namespace);
      listed.add(key);
      const current = store.get(key);
      if (current && current.metadata?.uid !== item.metadata?.uid) {
        push(this.apply(resource, 'DELETED', current, source));
        push(this.apply(resource, 'ADDED', item, source));
      } else push(this.apply(resource, current ? 'MODIFIED' : 'ADDED', item, source));
    }
    for (const [key, current] of [...store]) {
      if (!listed.has(key)) push(this.apply(resource, 'DELETED', current, source));
    }
    return out;
  }

  /**
   * Where this timeline disagrees with a fresh List of `resource` taken at `listVersion`; empty
   * when it holds every listed object at that version or a newer one (or saw it deleted since), and
   * nothing the server no longer lists unless it arrived after the List. resourceVersions are
   * compared as the etcd revisions they are on every API server we run against.
   */
  disagreement(resource: string, items: KubernetesObject[], listVersion: string): string[] {
    const store = this.store(resource);
    const rv = (o?: KubernetesObject) => BigInt(o?.metadata?.resourceVersion || '0');
    const out: string[] = [];
    const listed = new Set<string>();
    for (const item of items) {
      const { name = '', namespace, uid = '' } = item.metadata ?? {};
      const key = keyOf(name, namespace);
      listed.add(key);
      const held = store.get(key);
      if (this.deletedUids.has(`${resource}|${uid}`)) continue;
      if (held?.metadata?.uid === uid && rv(held) >= rv(item)) continue;
      const what = held ? `uid ${held.metadata?.uid} rv ${held.metadata?.resourceVersion}` : 'nothing';
      out.push(`${resource}/${key}: the server lists uid ${uid} rv ${rv(item)}, the recorder holds ${what}`);
    }
    for (const [key, held] of store)
      if (!listed.has(key) && rv(held) <= BigInt(listVersion || '0'))
        out.push(`${resource}/${key}: the recorder holds rv ${rv(held)}, the server no longer lists it`);
    return out;
  }
}

export interface RecorderOptions {
  /** A watch with no event (bookmarks count) for this long is restarted (seconds). */
  idleSeconds?: number;
  /** Server-side watch timeout, so streams are renewed regularly (seconds). */
  watchSeconds?: number;
}

type Listener = (event: RecordedEvent) => void;

export interface RecorderStats {
  /** Watches opened again after one ended (silently, by the server's timeout, or by an error). */
  rewatches: number;
  /** Re-lists after the watch's version was gone (410) or the watch reported an error. */
  relists: number;
  /** 410 Gone answers (as an ERROR event or an HTTP status). */
  gone: number;
  /** Watches restarted by the idle timer. */
  idleRestarts: number;
  /** Watches that ended with an error other than our own abort (network, server). */
  errors: number;
}

/** What happened to a stream (not to the objects): for tests, and to explain gaps in a timeline. */
export interface StreamNotice {
  resource: string;
  what: 'rewatch' | 'relist' | 'gone' | 'idle' | 'error';
  at: number;
  detail?: string;
}

const STAT_OF: Record<StreamNotice['what'], keyof RecorderStats> = {
  rewatch: 'rewatches',
  relist: 'relists',
  gone: 'gone',
  idle: 'idleRestarts',
  error: 'errors',
};

export class Recorder {
  private readonly timeline = new Timeline();
  readonly stats: RecorderStats = { rewatches: 0, relists: 0, gone: 0, idleRestarts: 0, errors: 0 };
  /** Every stream notice, in order. */
  readonly notices: StreamNotice[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly noticeListeners = new Set<(n: StreamNotice) => void>();
  private readonly streams: Stream[];
  private stopped = false;

  private readonly kube: Kube;
  readonly options: Required<RecorderOptions>;

  constructor(kube: Kube, specs: ResourceSpec[], options: RecorderOptions = {}) {
    this.kube = kube;
    this.options = { idleSeconds: options.idleSeconds ?? 90, watchSeconds: options.watchSeconds ?? 60 };
    this.streams = specs.map((spec) => new Stream(this, spec));
  }

  /** Every recorded event, in the order received. */
  get events(): RecordedEvent[] {
    return this.timeline.events;
  }

  /** Current state: resource -> object key (namespace/name) -> object. */
  get state(): Map<string, Map<string, KubernetesObject>> {
    return this.timeline.state;
  }

  /** Lists every resource, then watches from the list's resourceVersion. Resolves once all watch. */
  async start(): Promise<this> {
    await Promise.all(this.streams.map((s) => s.start()));
    return this;
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.streams) s.stop();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onNotice(listener: (n: StreamNotice) => void): () => void {
    this.noticeListeners.add(listener);
    return () => this.noticeListeners.delete(listener);
  }

  objects<T extends KubernetesObject>(resource: string): T[] {
    return [...(this.state.get(resource)?.values() ?? [])] as T[];
  }

  get<T extends KubernetesObject>(resource: string, name: string, namespace?: string): T | undefined {
    return this.state.get(resource)?.get(keyOf(name, namespace)) as T | undefined;
  }

  /** Events of one resource (optionally one object name), in the order received. */
  history(resource: string, name?: string): RecordedEvent[] {
    return this.events.filter((e) => e.resource === resource && (name === undefined || e.name === name));
  }

  /** Events received at or after a wall-clock time (ms), e.g. the moment a fault was injected. */
  since(at: number): RecordedEvent[] {
    return this.events.filter((e) => e.at >= at);
  }

  /**
   * A consistent read: Lists `resource` afresh from the API server, then waits (woken by events)
   * until the recorder holds what that List holds; resolves with the List's resourceVersion. Fails
   * when the List does not answer, or the recorder does not catch up, within `timeoutSeconds`: a
   * stream that stalled without a sign (no FIN, no RST) shows here and nowhere else.
   */
  async consistentRead(resource: string, timeoutSeconds: number): Promise<string> {
    const { spec } = this.stream(resource);
    const deadline = performance.now() + timeoutSeconds * 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = (what: string) =>
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} within ${timeoutSeconds}s`)),
          Math.max(0, deadline - performance.now()),
        );
      });
    try {
      const list = await Promise.race([
        this.kube.objects.list(spec.apiVersion, spec.kind, spec.namespace),
        late(`a fresh List of ${resource} did not answer`),
      ]);
      clearTimeout(timer);
      const version = list.metadata?.resourceVersion ?? '';
      let left = this.timeline.disagreement(resource, list.items, version);
      if (!left.length) return version;
      let off: () => unknown = () => undefined;
      const caughtUp = new Promise<string>((resolve) => {
        off = this.onEvent((e) => {
          if (e.resource !== resource) return;
          left = this.timeline.disagreement(resource, list.items, version);
          if (!left.length) resolve(version);
        });
      });
      try {
        return await Promise.race([
          caughtUp,
          late(`the recorder did not catch up with a fresh List of ${resource} at rv ${version}`).catch(
            (err: Error) => Promise.reject(new Error(`${err.message}: ${left.join('; ')}`)),
          ),
        ]);
      } finally {
        off();
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drops every stream's connection without stopping: used to prove the re-watch (tests). */
  dropConnections(): void {
    for (const s of this.streams) s.abortCurrent('drop');
  }

  /** Replaces a stream's resourceVersion with a long-compacted one and drops its watch, so the next
   * watch meets 410 Gone (tests). */
  forceGone(resource: string): void {
    const stream = this.stream(resource);
    stream.forgetVersion();
    stream.abortCurrent('drop');
  }

  /**
   * Takes one stream down until `release`: what a dead connection does, made deterministic for tests.
   * Changes made meanwhile must still reach the timeline, from the re-watch (the server replays them)
   * or, with `gone`, from the re-list that the server's 410 forces.
   */
  hold(resource: string, opts: { gone?: boolean } = {}): void {
    const stream = this.stream(resource);
    stream.hold();
    if (opts.gone) stream.forgetVersion();
    stream.abortCurrent('drop');
  }

  release(resource: string): void {
    this.stream(resource).release();
  }

  private stream(resource: string): Stream {
    const stream = this.streams.find((s) => s.spec.resource === resource);
    if (!stream) throw new Error(`no stream for ${resource}`);
    return stream;
  }

  /** @internal */
  notice(resource: string, what: StreamNotice['what'], detail?: string): void {
    this.stats[STAT_OF[what]]++;
    const n: StreamNotice = { resource, what, at: Date.now(), ...(detail ? { detail } : {}) };
    this.notices.push(n);
    for (const l of this.noticeListeners) l(n);
  }

  /** @internal */
  get client(): Kube {
    return this.kube;
  }

  /** @internal */
  reconcile(spec: ResourceSpec, items: KubernetesObject[], source: EventSource): void {
    for (const e of this.timeline.reconcile(spec.resource, items, source)) this.emit(e);
  }

  /** @internal */
  record(spec: ResourceSpec, type: EventType, object: KubernetesObject): void {
    const e = this.timeline.apply(spec.resource, type, object, 'watch');
    if (e) this.emit(e);
  }

  private emit(event: RecordedEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        // A listener's bug must not stop the recording; waits catch their own errors.
        console.error(`[recorder] listener failed on ${event.resource}/${event.name}: ${String(err)}`);
      }
    }
  }
}

interface WatchEnd {
  error?: unknown;
  /** The server said our resourceVersion is gone (410), or sent another ERROR: re-list. */
  relist: boolean;
  abortedBy?: 'idle' | 'drop' | 'stop';
}

/** One resource: a List, then a loop of watches. Only the loop opens watches, so never two at once. */
class Stream {
  private resourceVersion = '';
  private controller?: AbortController;
  private abortedBy?: WatchEnd['abortedBy'];
  private idleTimer?: ReturnType<typeof setTimeout>;
  private wake?: () => void;
  private held?: { promise: Promise<void>; resolve: () => void };

  private readonly rec: Recorder;
  readonly spec: ResourceSpec;

  constructor(rec: Recorder, spec: ResourceSpec) {
    this.rec = rec;
    this.spec = spec;
  }

  async start(): Promise<void> {
    await this.list('list');
    const connected = this.open();
    void this.loop(connected);
    await connected.opened;
  }

  stop(): void {
    this.abortCurrent('stop');
    this.wake?.();
    this.release();
  }

  abortCurrent(why: 'idle' | 'drop' | 'stop'): void {
    if (!this.controller) return;
    this.abortedBy = why;
    this.controller.abort();
  }

  hold(): void {
    if (this.held) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.held = { promise, resolve };
  }

  release(): void {
    this.held?.resolve();
    this.held = undefined;
  }

  forgetVersion(): void {
    // etcd compacts old revisions; revision 1 is long gone on any cluster that has run a while.
    this.resourceVersion = '1';
  }

  private async list(source: 'list' | 'relist'): Promise<void> {
    const list = await this.rec.client.objects.list(
      this.spec.apiVersion,
      this.spec.kind,
      this.spec.namespace,
    );
    const items = list.items.map(
      (item) => ({ apiVersion: this.spec.apiVersion, kind: this.spec.kind, ...item }) as KubernetesObject,
    );
    // Noticed before its events are, so a wait woken by them already sees the re-list counted.
    if (source === 'relist')
      this.rec.notice(this.spec.resource, 'relist', `at resourceVersion ${list.metadata?.resourceVersion}`);
    this.rec.reconcile(this.spec, items, source);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  private async loop(first: { ended: Promise<WatchEnd> }): Promise<void> {
    let current = first;
    let failures = 0;
    for (;;) {
      const end = await current.ended;
      if (this.held) await this.held.promise;
      if (this.rec.isStopped) return;
      const r = this.spec.resource;
      if (end.abortedBy === 'idle') this.rec.notice(r, 'idle', `silent for ${this.rec.options.idleSeconds}s`);
      else if (end.error && !end.abortedBy) {
        this.rec.notice(r, 'error', short(end.error));
        if (isGone(end.error)) {
          this.rec.notice(r, 'gone', 'HTTP 410');
          end.relist = true;
        }
      }
      if (end.relist) {
        try {
          await this.list('relist');
        } catch (err) {
          failures++;
          console.error(`[recorder] re-list of ${this.spec.resource} failed, retrying: ${short(err)}`);
          await this.pause(failures);
          current = { ended: Promise.resolve({ relist: true }) };
          continue;
        }
      } else this.rec.notice(r, 'rewatch', `from resourceVersion ${this.resourceVersion}`);
      // The API server may be briefly unreachable (a node fault nearby): back off after errors only.
      if (end.error && !end.abortedBy) await this.pause(++failures);
      else failures = 0;
      if (this.rec.isStopped) return;
      current = this.open();
    }
  }

  private pause(failures: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.abortCurrent('idle'), this.rec.options.idleSeconds * 1000);
  }

  /** Opens one watch. `opened` resolves once the server answered (or the attempt failed); `ended`
   * when the watch is over, however it ended. */
  private open(): { opened: Promise<void>; ended: Promise<WatchEnd> } {
    const watcher = new k8s.Watch(this.rec.client.kc);
    // The client aborts a stream silent for 30 s (a private field in 2.x): let our idle timer be the
    // one that acts, so a quiet resource is not re-watched every 30 s and the idle limit means what it says.
    (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs =
      (this.rec.options.idleSeconds + 10) * 1000;
    let relist = false;
    let finished = false;
    let resolveEnd!: (end: WatchEnd) => void;
    const ended = new Promise<WatchEnd>((r) => (resolveEnd = r));
    this.abortedBy = undefined;
    this.armIdleTimer();
    const opened = watcher
      .watch(
        this.spec.path,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: this.rec.options.watchSeconds,
        },
        (phase: string, obj: KubernetesObject & { code?: number }) => {
          this.armIdleTimer();
          if (phase === 'ERROR') {
            // 410 Gone (version compacted) or another server error: the watch cannot go on from here.
            relist = true;
            if (obj.code === 410)
              this.rec.notice(this.spec.resource, 'gone', (obj as { message?: string }).message);
            return;
          }
          if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
          if (phase === 'BOOKMARK') return;
          const full = { apiVersion: this.spec.apiVersion, kind: this.spec.kind, ...obj } as KubernetesObject;
          this.rec.record(this.spec, phase as EventType, full);
        },
        (error: unknown) => {
          finished = true;
          clearTimeout(this.idleTimer);
          this.controller = undefined;
          resolveEnd({ error: error ?? undefined, relist, abortedBy: this.abortedBy });
        },
      )
      .then(
        (controller) => {
          // done() may already have run (the request failed): then there is nothing to abort.
          if (!finished) this.controller = controller;
          if (this.rec.isStopped) controller.abort();
        },
        (error: unknown) => {
          clearTimeout(this.idleTimer);
          resolveEnd({ error, relist: false });
        },
      );
    return { opened, ended };
  }
}

function short(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

export function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number; message?: string } | undefined;
  return (
    e?.statusCode === 410 ||
    e?.code === 410 ||
    /\b410\b|too old resource version|Expired/i.test(e?.message ?? '')
  );
}
