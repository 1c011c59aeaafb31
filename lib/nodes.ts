// Node faults behind a small interface. The kind implementation acts on the node's Docker
// container; a provider for real clusters (e.g. stopping kubelet through a privileged debug pod)
// can implement the same calls later.
import { $ } from 'zx';

export interface NodeFaultProvider {
  stop(node: string): Promise<void>;
  start(node: string): Promise<void>;
  pause(node: string): Promise<void>;
  unpause(node: string): Promise<void>;
  /** Cuts the node off the cluster network; returns the address to reconnect it with. */
  disconnect(node: string): Promise<string>;
  reconnect(node: string, ip: string): Promise<void>;
  restartKubelet(node: string): Promise<void>;
  state(node: string): Promise<{ running: boolean; paused: boolean; ip: string }>;
  kubeletJournal(node: string): Promise<string>;
}

const KIND_NETWORK = 'kind';

export const kindNodes: NodeFaultProvider = {
  async stop(node) {
    await $`docker stop ${node}`.quiet();
  },
  async start(node) {
    const s = await this.state(node);
    if (s.paused) await $`docker unpause ${node}`.quiet();
    if (!s.running) await $`docker start ${node}`.quiet();
  },
  async pause(node) {
    await $`docker pause ${node}`.quiet();
  },
  async unpause(node) {
    if ((await this.state(node)).paused) await $`docker unpause ${node}`.quiet();
  },
  async disconnect(node) {
    const { ip } = await this.state(node);
    if (!ip) throw new Error(`${node} has no address on the ${KIND_NETWORK} network`);
    await $`docker network disconnect ${KIND_NETWORK} ${node}`.quiet();
    return ip;
  },
  async reconnect(node, ip) {
    if ((await this.state(node)).ip) return;
    // The same address: the Node object, certificates and routes all name it.
    await $`docker network connect --ip ${ip} ${KIND_NETWORK} ${node}`.quiet();
  },
  async restartKubelet(node) {
    await $`docker exec ${node} systemctl restart kubelet`.quiet();
  },
  async state(node) {
    const r =
      await $`docker inspect -f ${`{{.State.Running}} {{.State.Paused}} {{with index .NetworkSettings.Networks "${KIND_NETWORK}"}}{{.IPAddress}}{{end}}`} ${node}`.quiet();
    const [running, paused, ip = ''] = r.stdout.trim().split(' ');
    return { running: running === 'true', paused: paused === 'true', ip };
  },
  async kubeletJournal(node) {
    const r = await $`docker exec ${node} journalctl -u kubelet --no-pager -n 400`.nothrow().quiet();
    return r.stdout || r.stderr;
  },
};
