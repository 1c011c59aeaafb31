// Node faults behind a small interface. The kind implementation acts on the node's Docker
// container; a provider for real clusters (e.g. stopping kubelet through a privileged debug pod)
// can implement the same calls later.
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { $ } from 'zx';
import { CLUSTER_NAME, KIND_CLUSTER_LABEL, LAB_BIN, LAB_NETWORK } from './paths.ts';
import { restartFlanneld } from './pod-network.ts';

/** A new flannel pod has the routes back within seconds (5-12 s measured, with the Node Ready); 60 s only ends a hopeless wait. */
const FLANNEL_ROUTES_BOUND = 60;
/** A started node container's entrypoint reads its address, then hands PID 1 to systemd (1-2 s measured). */
const ENTRYPOINT_BOUND = 30;

/**
 * Waits until the node's entrypoint has handed over to systemd. Cut off before that, the entrypoint
 * finds no address and the container exits ("have an old IPv4 address but no current IPv4
 * address"): a node started a moment ago and still showing its old Ready must not be cut off yet.
 * Docker has no event for it, so PID 1 is asked every 200 ms, within the bound.
 */
async function entrypointDone(node: string): Promise<void> {
  const deadline = Date.now() + ENTRYPOINT_BOUND * 1000;
  for (;;) {
    const r = await $`docker exec ${node} cat /proc/1/comm`.nothrow().quiet();
    if (r.stdout.trim() === 'systemd') return;
    if (Date.now() > deadline)
      throw new Error(
        `${node}: PID 1 is still ${r.stdout.trim() || `unknown (docker exec: ${r.stderr.trim() || `exit ${r.exitCode}`})`} after ${ENTRYPOINT_BOUND}s (its entrypoint has not finished)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface NodeState {
  running: boolean;
  paused: boolean;
  /** Attached to the cluster network (a stopped container stays attached). */
  connected: boolean;
  /** Address on the cluster network; empty while disconnected or stopped. */
  ip: string;
}

export interface NodeInfo extends NodeState {
  name: string;
  role: 'control-plane' | 'worker' | string;
}

/** How a node fault is made: `seconds`, the longest a cut may last (a provider that cannot reach a
 * cut-off node ends it then; others ignore it); `watch`, a process name to count on the node while it
 * cannot be looked into (read back with countsDuring). */
export interface FaultOptions {
  seconds?: number;
  watch?: string;
}

/** The node faults a story names, each with its undo. */
export type NodeFaultStep = 'stop' | 'cut' | 'start' | 'reconnect';

export interface NodeFaultProvider {
  /** docker: the node containers of the lab's kind cluster; api: agent pods, through the API alone. */
  name: 'docker' | 'api';
  /** What this provider does for `fault` on `node`, as a command a reader could type: for the story
   * and the timeline, so a behaviour never spells out a provider's tools. */
  command(fault: NodeFaultStep, node: string): string;
  /** Every node of the lab cluster, including stopped ones. */
  list(): Promise<NodeInfo[]>;
  stop(node: string, opts?: FaultOptions): Promise<void>;
  /** Brings a node back from stop or pause, on the address given if any; a no-op on a running node. */
  start(node: string, ip?: string): Promise<void>;
  pause(node: string): Promise<void>;
  unpause(node: string): Promise<void>;
  /** Cuts the node off the cluster network; returns the address to reconnect it with. */
  disconnect(node: string, opts?: FaultOptions): Promise<string>;
  /** Reconnects with that address; a no-op on a connected node. */
  reconnect(node: string, ip: string): Promise<void>;
  /** Stops and starts the node on its address: every process of it, pods' network included, begins anew. */
  reboot(node: string, ip: string): Promise<void>;
  state(node: string): Promise<NodeState>;
  /** How many processes matching `name` run on the node now (its pods' included); throws when the
   * provider cannot look into the node now (API: a stopped or cut-off node). */
  processes(node: string, name: string): Promise<number>;
  /** The counts of the watched process while the node's last fault was on, [ms, count] per second;
   * undefined for a provider that can always look (Docker). */
  countsDuring?(node: string): Promise<Array<{ at: number; count: number }>>;
  /** Whether the node cannot be looked into now (a provider that can always look has none). */
  outOfReach?(node: string): Promise<boolean>;
  kubeletJournal(node: string): Promise<string>;
  /** Writes every node's logs (kubelet, containerd, pods) under dir. */
  exportLogs(dir: string): Promise<void>;
}

const ROLE_LABEL = 'io.x-k8s.kind.role';

/** The container behind a Node: kind names it in the providerID (kind://docker/<cluster>/<name>). */
export function containerOf(node: V1Node | string): string {
  if (typeof node === 'string') return node;
  const id = node.spec?.providerID ?? '';
  const m = /^kind:\/\/docker\/[^/]+\/(.+)$/.exec(id);
  return m?.[1] ?? node.metadata!.name!;
}

export function parseState(line: string): NodeState {
  const [running, paused, connected, ip = ''] = line.trim().split(/\s+/);
  return { running: running === 'true', paused: paused === 'true', connected: connected === 'yes', ip };
}

const STATE_FORMAT = `{{.State.Running}} {{.State.Paused}} {{with index .NetworkSettings.Networks "${LAB_NETWORK}"}}yes {{.IPAddress}}{{else}}no{{end}}`;

export const kindNodes: NodeFaultProvider = {
  name: 'docker',
  command(fault, node) {
    return {
      stop: `docker stop ${node}`,
      cut: `docker network disconnect ${LAB_NETWORK} ${node}`,
      start: `docker start ${node}`,
      reconnect: `docker network connect --ip <old> ${LAB_NETWORK} ${node}`,
    }[fault];
  },
  async list() {
    const names = (
      await $`docker ps -a --filter ${`label=${KIND_CLUSTER_LABEL}=${CLUSTER_NAME}`} --format {{.Names}}`.quiet()
    ).stdout
      .split('\n')
      .filter(Boolean)
      .sort();
    if (!names.length) return [];
    const r =
      await $`docker inspect -f ${`{{.Name}} {{index .Config.Labels "${ROLE_LABEL}"}} ${STATE_FORMAT}`} ${names}`.quiet();
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name = '', role = '', ...rest] = line.trim().split(' ');
        return { name: name.replace(/^\//, ''), role, ...parseState(rest.join(' ')) };
      });
  },
  async stop(node) {
    await $`docker stop ${node}`.quiet();
  },
  async start(node, ip) {
    const s = await this.state(node);
    if (s.paused) await $`docker unpause ${node}`.quiet();
    if (s.running) return;
    // Docker may hand a restarted container another free address; the node's certificates,
    // kubelet flags and flannel routes name the old one, so it is asked for explicitly.
    if (ip) {
      await $`docker network disconnect ${LAB_NETWORK} ${node}`.nothrow().quiet();
      await $`docker network connect --ip ${ip} ${LAB_NETWORK} ${node}`.quiet();
    }
    await $`docker start ${node}`.quiet();
  },
  async pause(node) {
    await $`docker pause ${node}`.quiet();
  },
  async unpause(node) {
    if ((await this.state(node)).paused) await $`docker unpause ${node}`.quiet();
  },
  async disconnect(node) {
    await entrypointDone(node);
    const { ip, connected } = await this.state(node);
    if (!connected || !ip) throw new Error(`${node} has no address on the ${LAB_NETWORK} network`);
    await $`docker network disconnect ${LAB_NETWORK} ${node}`.quiet();
    return ip;
  },
  async reconnect(node, ip) {
    if ((await this.state(node)).connected) return;
    // The same address matters: the Node object, the kubelet's serving certificate and routes name it.
    await $`docker network connect --ip ${ip} ${LAB_NETWORK} ${node}`.quiet();
    const peers = (await this.list()).length - 1;
    await restartFlanneld(node, peers, FLANNEL_ROUTES_BOUND);
  },
  async reboot(node, ip) {
    if ((await this.state(node)).running) await $`docker stop ${node}`.quiet();
    await this.start(node, ip);
  },
  async state(node) {
    return parseState((await $`docker inspect -f ${STATE_FORMAT} ${node}`.quiet()).stdout);
  },
  async processes(node, name) {
    // pgrep's exit 1 (none) is made 0 inside the node; any other failure (a stopped node, a failed
    // docker exec, which also exits 1) throws: it must not read as "none".
    const r = await $`docker exec ${node} sh -c ${`pgrep -a '${name}' || [ $? -eq 1 ]`}`.quiet();
    return r.stdout.split('\n').filter(Boolean).length;
  },
  async kubeletJournal(node) {
    const r = await $`docker exec ${node} journalctl -u kubelet --no-pager -n 400`.nothrow().quiet();
    return r.stdout || r.stderr;
  },
  async exportLogs(dir) {
    await $`${join(LAB_BIN, 'kind')} export logs ${dir} --name ${CLUSTER_NAME}`.quiet();
  },
};
