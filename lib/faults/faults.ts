// Faults a scenario injects. Each one that leaves something broken journals its undo first (see
// journal.ts) and returns it; a pod deletion leaves nothing to undo: the controller answers it.
// Node faults only ever touch workers: the control plane going down would take the lab with it;
// and only one run at a time may have a node faulted (lock.ts): this one holds the lock from its
// first node fault until the last of them is undone.
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { Kube } from '../cluster/kube.ts';
import { journaled, type PatchOp, type UndoAction, type UndoDeps } from './journal.ts';
import { acquireNodeFaultLock, releaseNodeFaultLock } from '../cluster/lock.ts';
import { kindNodes, type FaultOptions, type NodeFaultProvider } from '../cluster/kind-nodes.ts';
import { apiNodes } from '../cluster/api-nodes.ts';
import { assertConsented } from '../cluster/consent.ts';
import { bound } from '../cluster/settings.ts';

export type Undo = () => Promise<void>;

export const OUT_OF_SERVICE_TAINT = 'node.kubernetes.io/out-of-service';

/** One injected fault as the run report draws it: from its injection to its undo. */
export interface FaultRecord {
  what: string;
  /** Wall clock (ms) when the injection began. */
  at: number;
  /** Wall clock (ms) when the undo finished; absent while it is still in place. */
  undoneAt?: number;
  /** True for a fault the cluster answers by itself (a pod deletion): nothing to undo. */
  instant?: boolean;
}

/** LAB_NODE_FAULTS=api faults nodes through the Kubernetes API alone; docker (the default) through
 * the kind cluster's node containers. */
export function nodeFaultProvider(kube: Kube, env = process.env): NodeFaultProvider {
  const want = env.LAB_NODE_FAULTS ?? (kube.consent ? 'api' : 'docker');
  if (want === 'docker' && kube.consent)
    throw new Error(
      'LAB_NODE_FAULTS=docker: a cluster of your own is faulted through the API only (LAB_NODE_FAULTS=api)',
    );
  if (want === 'api') return apiNodes(kube);
  if (want === 'docker') return kindNodes;
  throw new Error(
    `LAB_NODE_FAULTS=${want} is not a node-fault provider: use docker (the lab's kind cluster, through its containers) or api (agent pods, through the Kubernetes API alone)`,
  );
}

export class Faults {
  private readonly kube: Kube;
  private readonly nodes: NodeFaultProvider;
  private readonly deps: UndoDeps;
  private readonly undos: Undo[] = [];
  private readonly log: FaultRecord[] = [];
  private nodeFaultsOut = 0;

  constructor(kube: Kube, nodes: NodeFaultProvider = nodeFaultProvider(kube), journalPath?: string) {
    this.kube = kube;
    this.nodes = nodes;
    this.deps = { kube, nodes, journalPath };
  }

  get provider(): NodeFaultProvider {
    return this.nodes;
  }

  /** How a node undo finds its provider again in the journal, after a crash. */
  private get via() {
    return this.nodes.name === 'api' ? { provider: 'api' as const } : {};
  }

  /** What was injected and when it was undone, in order: copies, so nobody rewrites the history. */
  get injected(): readonly Readonly<FaultRecord>[] {
    return this.log.map((r) => ({ ...r }));
  }

  /** Logs a fault that is now in place; the returned undo also stamps when it was undone. */
  private logged(what: string, at: number, u: Undo): Undo {
    const record: FaultRecord = { what, at };
    this.log.push(record);
    return async () => {
      await u();
      record.undoneAt ??= Date.now();
    };
  }

  private async inject(what: string, undo: UndoAction, act: () => Promise<unknown>): Promise<Undo> {
    const at = Date.now();
    const u = this.logged(what, at, await journaled(what, undo, act, this.deps));
    this.undos.push(u);
    return u;
  }

  /** A fault that takes (part of) a node out: under the machine-wide node-fault lock. */
  private async injectNodeFault(what: string, undo: UndoAction, act: () => Promise<unknown>): Promise<Undo> {
    if (this.nodeFaultsOut === 0) await acquireNodeFaultLock(what, bound('NODE_FAULT_LOCK', 900));
    this.nodeFaultsOut++;
    const settle = () => {
      if (--this.nodeFaultsOut === 0) releaseNodeFaultLock();
    };
    const at = Date.now();
    let u: Undo;
    try {
      u = this.logged(what, at, await journaled(what, undo, act, this.deps));
    } catch (err) {
      settle(); // journaled() already undid it
      throw err;
    }
    let done = false;
    const wrapped: Undo = async () => {
      if (done) return;
      await u();
      done = true;
      settle();
    };
    this.undos.push(wrapped);
    return wrapped;
  }

  /** Refuses any node that is not a worker of the lab cluster. */
  async assertWorker(node: string): Promise<void> {
    assertConsented(this.kube.consent, node);
    const info = (await this.nodes.list()).find((n) => n.name === node);
    if (!info) throw new Error(`${node} is not a node of the lab cluster`);
    if (info.role !== 'worker') {
      throw new Error(
        `refusing to fault ${node}: it is the ${info.role}, only workers may be stopped or cut off`,
      );
    }
  }

  async stopNode(node: string, opts: FaultOptions = {}): Promise<Undo> {
    await this.assertWorker(node);
    const { ip } = await this.nodes.state(node);
    return this.injectNodeFault(`stop node ${node}`, { action: 'start-node', node, ip, ...this.via }, () =>
      this.nodes.stop(node, opts),
    );
  }

  /** Freezes every process of the node (kubelet and pods): no status, no lease, no answer. */
  async pauseNode(node: string): Promise<Undo> {
    await this.assertWorker(node);
    return this.injectNodeFault(`pause node ${node}`, { action: 'unpause-node', node, ...this.via }, () =>
      this.nodes.pause(node),
    );
  }

  /** Cuts the node off the network; its pods keep running (the seed's partition case). `seconds`:
   * how long it may last at most (a provider that cannot reach the cut-off node ends it then). */
  async partitionNode(node: string, opts: FaultOptions = {}): Promise<Undo> {
    await this.assertWorker(node);
    const { ip } = await this.nodes.state(node);
    if (!ip) throw new Error(`${node} has no address to come back with (stopped or already cut off)`);
    return this.injectNodeFault(
      `partition node ${node} (was ${ip})`,
      { action: 'reconnect-node', node, ip, ...this.via },
      () => this.nodes.disconnect(node, opts),
    );
  }

  /** Removes the Node object; the undo reboots the node (or boots a stopped one), which registers it again. */
  async deleteNodeObject(node: string): Promise<Undo> {
    await this.assertWorker(node);
    // The registered address, not the container's: a stopped node has none right now.
    const registered = await this.kube.core.readNode({ name: node });
    const ip = registered.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (!ip) throw new Error(`Node ${node} has no InternalIP to boot it back on`);
    return this.injectNodeFault(`delete Node ${node}`, { action: 'reboot-node', node, ip, ...this.via }, () =>
      this.kube.core.deleteNode({ name: node }),
    );
  }

  /** The operator's statement that a node is shut down: its pods are force-deleted, volumes detached. */
  async taintOutOfService(node: string): Promise<Undo> {
    await this.assertWorker(node);
    const key = OUT_OF_SERVICE_TAINT;
    return this.injectNodeFault(`taint ${node} ${key}`, { action: 'remove-taint', node, key }, async () => {
      const current = await this.kube.core.readNode({ name: node });
      const taints = [...(current.spec?.taints ?? []), { key, value: 'nodeshutdown', effect: 'NoExecute' }];
      await this.kube.core.patchNode({
        name: node,
        body: [{ op: 'add', path: '/spec/taints', value: taints }],
      });
    });
  }

  /** Graceful (the pod's grace period) or forced (grace 0: the API object goes at once). */
  async deletePod(namespace: string, name: string, opts: { force?: boolean } = {}): Promise<void> {
    const at = Date.now();
    await this.kube.core.deleteNamespacedPod({
      namespace,
      name,
      ...(opts.force ? { gracePeriodSeconds: 0 } : {}),
    });
    this.log.push({ what: `${opts.force ? 'force ' : ''}delete pod ${name}`, at, instant: true });
  }

  /** Sets spec.replicas; the undo sets the previous count back. */
  async scale(namespace: string, name: string, replicas: number): Promise<Undo> {
    const sts = await this.kube.apps.readNamespacedStatefulSet({ namespace, name });
    const previous = sts.spec?.replicas ?? 1;
    return this.inject(
      `scale ${namespace}/${name} ${previous} -> ${replicas}`,
      {
        action: 'patch-statefulset',
        namespace,
        name,
        patch: [{ op: 'replace', path: '/spec/replicas', value: previous }],
      },
      () =>
        this.kube.apps.patchNamespacedStatefulSet({
          namespace,
          name,
          body: [{ op: 'replace', path: '/spec/replicas', value: replicas }],
        }),
    );
  }

  /**
   * Starts a rolling update by changing the pod template (and optionally the update strategy, e.g. a
   * partition). The undo puts the previous template and strategy back, which rolls the pods back.
   */
  async rollingUpdate(
    namespace: string,
    name: string,
    change: (
      sts: V1StatefulSet,
    ) => Pick<V1StatefulSet['spec'] & object, 'template'> &
      Partial<Pick<V1StatefulSet['spec'] & object, 'updateStrategy'>>,
  ): Promise<Undo> {
    const sts = await this.kube.apps.readNamespacedStatefulSet({ namespace, name });
    const next = change(structuredClone(sts));
    const restore: PatchOp[] = [{ op: 'replace', path: '/spec/template', value: sts.spec!.template }];
    const apply: PatchOp[] = [{ op: 'replace', path: '/spec/template', value: next.template }];
    if (next.updateStrategy) {
      restore.push({ op: 'replace', path: '/spec/updateStrategy', value: sts.spec!.updateStrategy ?? {} });
      apply.push({ op: 'replace', path: '/spec/updateStrategy', value: next.updateStrategy });
    }
    return this.inject(
      `rolling update of ${namespace}/${name}`,
      { action: 'patch-statefulset', namespace, name, patch: restore },
      () => this.kube.apps.patchNamespacedStatefulSet({ namespace, name, body: apply }),
    );
  }

  /** Undoes everything this instance injected, newest first; every undo is tried. */
  async undoAll(): Promise<void> {
    const errors: unknown[] = [];
    while (this.undos.length) {
      try {
        await this.undos.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length)
      throw new Error(
        `undo failed (the journal keeps it for the next start): ${errors.map(String).join('; ')}`,
      );
  }
}
