// Faults a scenario injects. Each one that leaves something broken journals its undo first (see
// journal.ts) and returns it; a pod deletion leaves nothing to undo: the controller answers it.
import type { Kube } from './kube.ts';
import { journaled, type UndoDeps } from './journal.ts';
import { kindNodes, type NodeFaultProvider } from './nodes.ts';

export type Undo = () => Promise<void>;

export class Faults {
  private readonly kube: Kube;
  private readonly nodes: NodeFaultProvider;
  private readonly deps: UndoDeps;
  private readonly undos: Undo[] = [];

  constructor(kube: Kube, nodes: NodeFaultProvider = kindNodes, journalPath?: string) {
    this.kube = kube;
    this.nodes = nodes;
    this.deps = { kube, nodes, journalPath };
  }

  private async inject(
    what: string,
    undo: Parameters<typeof journaled>[1],
    act: () => Promise<unknown>,
  ): Promise<Undo> {
    const u = await journaled(what, undo, act, this.deps);
    this.undos.push(u);
    return u;
  }

  stopNode(node: string): Promise<Undo> {
    return this.inject(`stop node ${node}`, { action: 'start-node', node }, () => this.nodes.stop(node));
  }

  pauseNode(node: string): Promise<Undo> {
    return this.inject(`pause node ${node}`, { action: 'unpause-node', node }, () => this.nodes.pause(node));
  }

  /** Cuts the node off the network; its pods keep running (the seed's partition case). */
  async partitionNode(node: string): Promise<Undo> {
    const { ip } = await this.nodes.state(node);
    return this.inject(`partition node ${node}`, { action: 'reconnect-node', node, ip }, () =>
      this.nodes.disconnect(node),
    );
  }

  /** Removes the Node object; restarting its kubelet registers it again. */
  deleteNodeObject(node: string): Promise<Undo> {
    return this.inject(`delete Node ${node}`, { action: 'restart-kubelet', node }, () =>
      this.kube.core.deleteNode({ name: node }),
    );
  }

  taintOutOfService(node: string): Promise<Undo> {
    const key = 'node.kubernetes.io/out-of-service';
    return this.inject(`taint ${node} ${key}`, { action: 'remove-taint', node, key }, async () => {
      const current = await this.kube.core.readNode({ name: node });
      const taints = [...(current.spec?.taints ?? []), { key, value: 'nodeshutdown', effect: 'NoExecute' }];
      await this.kube.core.patchNode({
        name: node,
        body: [{ op: 'add', path: '/spec/taints', value: taints }],
      });
    });
  }

  async deletePod(namespace: string, name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.kube.core.deleteNamespacedPod({
      namespace,
      name,
      ...(opts.force ? { gracePeriodSeconds: 0 } : {}),
    });
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
