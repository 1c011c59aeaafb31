// Records every change of the watched resources, with timestamps, from a List taken before the
// scenario acts. Scenarios prove order from these events, never from snapshots.
//
// The JavaScript client's watch can end without an error, or be cut by the server (410 Gone when
// its resourceVersion is compacted). Each stream therefore re-watches from the last version it saw
// when it ends, re-lists (and records what changed meanwhile, marked `relisted`) when that version
// is gone, and restarts a watch that has been silent longer than its idle limit.
import * as k8s from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Kube } from './kube.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface RecordedEvent {
  /** Resource label, e.g. "pods". */
  resource: string;
  type: EventType;
  /** Wall clock (ms since epoch) and monotonic clock (ms) when the harness received it. */
  at: number;
  mono: number;
  name: string;
  uid: string;
  resourceVersion: string;
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
  return [
    {
      resource: 'pods',
      apiVersion: 'v1',
      kind: 'Pod',
      path: `/api/v1/namespaces/${namespace}/pods`,
      namespace,
    },
    {
      resource: 'persistentvolumeclaims',
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
      namespace,
    },
    {
      resource: 'events',
      apiVersion: 'v1',
      kind: 'Event',
      path: `/api/v1/namespaces/${namespace}/events`,
      namespace,
    },
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

export interface RecorderOptions {
  /** A watch with no event for this long is restarted (seconds). */
  idleSeconds?: number;
  /** Server-side watch timeout, so streams are renewed regularly (seconds). */
  watchSeconds?: number;
}

type Listener = (event: RecordedEvent) => void;

export class Recorder {
  readonly events: RecordedEvent[] = [];
  /** Current state: resource -> object key (namespace/name) -> object. */
  readonly state = new Map<string, Map<string, KubernetesObject>>();
  /** How often each stream re-watched and re-listed: the test of the drop handling reads these. */
  readonly stats = { rewatches: 0, relists: 0, gone: 0, idleRestarts: 0 };
  private readonly listeners = new Set<Listener>();
  private readonly streams: Stream[];
  private stopped = false;

  private readonly kube: Kube;
  private readonly options: RecorderOptions;

  constructor(kube: Kube, specs: ResourceSpec[], options: RecorderOptions = {}) {
    this.kube = kube;
    this.options = options;
    this.streams = specs.map((spec) => new Stream(this, spec));
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

  /** Drops every stream's connection without stopping: used to prove the re-watch (tests). */
  dropConnections(): void {
    for (const s of this.streams) s.abortCurrent();
  }

  /** Forgets a stream's resourceVersion for a very old one, so its next watch meets 410 Gone (tests). */
  forceGone(resource: string): void {
    const stream = this.streams.find((s) => s.spec.resource === resource);
    if (!stream) throw new Error(`no stream for ${resource}`);
    stream.forgetVersion();
  }

  /** @internal */
  get watchOptions(): Required<RecorderOptions> {
    return { idleSeconds: this.options.idleSeconds ?? 90, watchSeconds: this.options.watchSeconds ?? 60 };
  }

  /** @internal */
  get client(): Kube {
    return this.kube;
  }

  /** @internal */
  record(spec: ResourceSpec, type: EventType, object: KubernetesObject, relisted: boolean): void {
    const meta = object.metadata ?? {};
    const name = meta.name ?? '';
    const key = keyOf(name, meta.namespace);
    let store = this.state.get(spec.resource);
    if (!store) this.state.set(spec.resource, (store = new Map()));
    const previous = store.get(key);
    // A re-watch may replay what was already seen: the same uid at the same version is not news.
    if (
      type !== 'DELETED' &&
      previous?.metadata?.uid === meta.uid &&
      previous?.metadata?.resourceVersion === meta.resourceVersion
    )
      return;
    if (type === 'DELETED') {
      if (!previous && relisted) return;
      store.delete(key);
    } else store.set(key, object);
    const event: RecordedEvent = {
      resource: spec.resource,
      type,
      at: Date.now(),
      mono: performance.now(),
      name,
      uid: meta.uid ?? '',
      resourceVersion: meta.resourceVersion ?? '',
      relisted,
      object,
    };
    this.events.push(event);
    for (const l of this.listeners) l(event);
  }
}

function keyOf(name: string, namespace?: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

class Stream {
  private resourceVersion = '';
  private abort?: AbortController;
  private idleTimer?: ReturnType<typeof setTimeout>;
  private restarting = false;

  private readonly rec: Recorder;
  readonly spec: ResourceSpec;

  constructor(rec: Recorder, spec: ResourceSpec) {
    this.rec = rec;
    this.spec = spec;
  }

  async start(): Promise<void> {
    await this.relist(false);
    await this.watch();
  }

  stop(): void {
    clearTimeout(this.idleTimer);
    this.abort?.abort();
  }

  abortCurrent(): void {
    this.abort?.abort();
  }

  forgetVersion(): void {
    this.resourceVersion = '1';
  }

  /** Lists the resource and records the difference to what the recorder holds. */
  private async relist(isRecovery: boolean): Promise<void> {
    const list = await this.rec.client.objects.list(
      this.spec.apiVersion,
      this.spec.kind,
      this.spec.namespace,
    );
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    const seen = new Set<string>();
    for (const item of list.items) {
      const obj = { apiVersion: this.spec.apiVersion, kind: this.spec.kind, ...item } as KubernetesObject;
      seen.add(keyOf(obj.metadata?.name ?? '', obj.metadata?.namespace));
      const known = this.rec.get(this.spec.resource, obj.metadata?.name ?? '', obj.metadata?.namespace);
      this.rec.record(this.spec, known ? 'MODIFIED' : 'ADDED', obj, isRecovery);
    }
    if (isRecovery) {
      for (const obj of this.rec.objects(this.spec.resource)) {
        const key = keyOf(obj.metadata?.name ?? '', obj.metadata?.namespace);
        if (!seen.has(key)) this.rec.record(this.spec, 'DELETED', obj, true);
      }
    }
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.rec.stats.idleRestarts++;
      this.abort?.abort();
    }, this.rec.watchOptions.idleSeconds * 1000);
  }

  private async watch(): Promise<void> {
    if (this.rec.isStopped) return;
    const watcher = new k8s.Watch(this.rec.client.kc);
    let gone = false;
    this.armIdleTimer();
    this.abort = await watcher.watch(
      this.spec.path,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.rec.watchOptions.watchSeconds,
      },
      (phase: string, obj: KubernetesObject & { code?: number }) => {
        this.armIdleTimer();
        if (phase === 'ERROR') {
          if (obj.code === 410) gone = true;
          return;
        }
        if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (phase === 'BOOKMARK') return;
        const full = { apiVersion: this.spec.apiVersion, kind: this.spec.kind, ...obj } as KubernetesObject;
        this.rec.record(this.spec, phase as EventType, full, false);
      },
      (err: unknown) => void this.restart(gone || isGone(err)),
    );
  }

  /** The watch ended, for whatever reason: watch again, after a re-list if our version is gone. */
  private async restart(gone: boolean): Promise<void> {
    clearTimeout(this.idleTimer);
    if (this.rec.isStopped || this.restarting) return;
    this.restarting = true;
    try {
      for (let attempt = 0; !this.rec.isStopped; attempt++) {
        try {
          if (gone) {
            this.rec.stats.gone++;
            this.rec.stats.relists++;
            await this.relist(true);
          } else this.rec.stats.rewatches++;
          await this.watch();
          return;
        } catch (err) {
          gone = isGone(err);
          // The API server may be briefly unreachable (e.g. a node fault nearby): back off a little.
          await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
        }
      }
    } finally {
      this.restarting = false;
    }
  }
}

function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number; message?: string } | undefined;
  return (
    e?.statusCode === 410 ||
    e?.code === 410 ||
    /\b410\b|too old resource version|Expired/i.test(e?.message ?? '')
  );
}
