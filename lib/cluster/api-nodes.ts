// The node-fault provider that needs nothing but the Kubernetes API: every act goes through an agent
// pod on the node (node-agent.ts), every fault ends on the node at its deadline. It is what runs on
// a cluster the harness cannot reach with Docker (a staging cluster), and on the lab cluster with
// LAB_NODE_FAULTS=api. A stop is held by the harness: while it runs, it keeps pushing the deadline
// out, so a harness that dies leaves the node to come back within one hold.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import type { Kube } from './kube.ts';
import type { NodeFaultProvider, NodeInfo, NodeState } from './kind-nodes.ts';
import {
  armedOn,
  armFault,
  awaitObject,
  countsDuring,
  endFault,
  POWER_CUT,
  runOnNode,
  setDeadline,
} from './node-agent.ts';

/** One argument for sh, in single quotes. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
import { AIRGAPPED_TOOLS_IMAGE } from './images.ts';
import { bound } from './settings.ts';

/** The agent's image: the project's tools image (preloaded on the lab cluster), or LAB_AGENT_IMAGE. */
export const agentImage = (env = process.env) =>
  env.LAB_AGENT_IMAGE ?? env.LAB_TOOLS_IMAGE ?? AIRGAPPED_TOOLS_IMAGE;

/** How long a stop outlives the harness that holds it (it is extended every third of that). */
export const STOP_HOLD_SECONDS = () => bound('AGENT_HOLD', 120);
/** A partition planned without a duration: long enough for a node to be declared lost and evicted. */
export const DEFAULT_CUT_SECONDS = () => bound('AGENT_CUT', 120);
/** An agent pod starts and exits within seconds on a working node (2-4 s measured). */
const AGENT_BOUND = () => bound('AGENT_POD', 60);
/** After its fault ends, a node's kubelet reports Ready again (2-12 s measured). */
const BACK_BOUND = () => bound('AGENT_NODE_BACK', 90);

const internalIp = (n: V1Node) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
const isReady = (n: V1Node | undefined) =>
  n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const heartbeat = (n: V1Node) =>
  Date.parse(String(n.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime ?? '')) || 0;

/** Waits, on a watch, for the Node to be Ready with a heartbeat from `since` (ms) on. */
async function readyAfter(kube: Kube, node: string, since: number, seconds: number): Promise<void> {
  // Heartbeats are stamped to the second: allow the one that began in the same second.
  const fresh = (n: V1Node) => isReady(n) && heartbeat(n) >= Math.floor(since / 1000) * 1000;
  const read = () =>
    kube.core.readNode({ name: node }).catch((err: { code?: number }) => {
      if (err.code === 404) return undefined; // deleted: it registers again
      throw err;
    });
  await awaitObject(
    kube,
    { path: '/api/v1/nodes', name: node, read },
    fresh,
    seconds,
    `${node} Ready with a fresh heartbeat after its fault ended`,
  );
}

export function apiNodes(kube: Kube, image = agentImage()): NodeFaultProvider {
  /** Stops this process holds, by node: the timer that keeps extending each. */
  const held = new Map<string, NodeJS.Timeout>();
  /** The last fault armed on each node by this process: whose watchdog record countsDuring reads. */
  const last = new Map<string, string>();
  const run = (node: string, command: string) => runOnNode(kube, image, node, command, AGENT_BOUND());

  /** Ends the node's faults of that kind (their objects go); true when one had not reached its deadline. */
  async function end(node: string, kind: 'stop' | 'cut'): Promise<boolean> {
    clearInterval(held.get(node));
    held.delete(node);
    const faults = (await armedOn(kube, node)).filter((f) => f.kind === kind);
    for (const f of faults) await endFault(kube, f.id);
    return faults.some((f) => f.deadline > Date.now());
  }

  const provider: NodeFaultProvider = {
    name: 'api',
    command(fault, node) {
      return {
        stop: `on ${node}: systemctl stop kubelet, kill its pods, stop containerd (API agent)`,
        cut: `on ${node}: nft drop on its node interface (API agent)`,
        start: `on ${node}: systemctl start containerd kubelet (its watchdog, told through the API)`,
        reconnect: `on ${node}: the cut ends at its planned deadline (its watchdog)`,
      }[fault];
    },
    async list(): Promise<NodeInfo[]> {
      const nodes = (await kube.core.listNode()).items;
      return nodes.map((n) => ({
        name: n.metadata!.name!,
        role:
          n.metadata?.labels?.['node-role.kubernetes.io/control-plane'] !== undefined
            ? 'control-plane'
            : 'worker',
        running: isReady(n),
        paused: false,
        connected: true,
        ip: internalIp(n),
      }));
    },
    async stop(node, opts = {}) {
      const hold = STOP_HOLD_SECONDS();
      const f = await armFault(kube, {
        ...(opts.watch ? { watch: opts.watch } : {}),
        image,
        node,
        kind: 'stop',
        deadline: Date.now() + hold * 1000,
        boundSeconds: AGENT_BOUND(),
      });
      const keep = setInterval(
        () => void setDeadline(kube, f.id, Date.now() + hold * 1000).catch(() => undefined),
        (hold * 1000) / 3,
      );
      keep.unref();
      held.set(node, keep);
      last.set(node, f.id);
    },
    async start(node) {
      const since = Date.now();
      if (await end(node, 'stop')) await readyAfter(kube, node, since, BACK_BOUND());
    },
    async pause() {
      throw new Error(
        'pausing a node needs the Docker provider (LAB_NODE_FAULTS=docker, on the lab cluster)',
      );
    },
    async unpause() {
      // nothing is ever paused by this provider
    },
    async disconnect(node, opts = {}) {
      const seconds = opts.seconds ?? DEFAULT_CUT_SECONDS();
      const n = await kube.core.readNode({ name: node });
      const ip = internalIp(n);
      // The interface that carries the node's own address is the one cut: the pod bridge stays.
      const device = (await run(node, `ip -o -4 addr show | awk '$4 ~ "^${ip}/" {print $2}'`)).trim();
      if (!ip || !device) throw new Error(`${node}: no interface carries its InternalIP ${ip || '(none)'}`);
      const f = await armFault(kube, {
        ...(opts.watch ? { watch: opts.watch } : {}),
        image,
        node,
        kind: 'cut',
        device,
        deadline: Date.now() + seconds * 1000,
        boundSeconds: AGENT_BOUND(),
      });
      last.set(node, f.id);
      return ip;
    },
    async reconnect(node) {
      // A cut-off node cannot be told anything: the cut ends at the deadline it was planned with.
      const cuts = (await armedOn(kube, node)).filter((f) => f.kind === 'cut');
      if (!cuts.length) return;
      const last = Math.max(...cuts.map((f) => f.deadline));
      await readyAfter(kube, node, last, Math.max(0, (last - Date.now()) / 1000) + BACK_BOUND());
      await end(node, 'cut');
    },
    async reboot(node) {
      const since = Date.now();
      if (await end(node, 'stop')) return readyAfter(kube, node, since, BACK_BOUND());
      // Every pod dies and the kubelet starts afresh, registering the Node again (flannel with it);
      // run as a unit of the node's own, since the agent pod dies with the rest.
      await run(
        node,
        `systemd-run --unit statefulset-lab-reboot-${since} sh -c ${shellQuote(`${POWER_CUT}\npower_off; power_on`)}`,
      ).catch(() => undefined); // the agent may die before it reports; the Node's return is the proof
      await readyAfter(kube, node, since, BACK_BOUND());
    },
    async state(node): Promise<NodeState> {
      const n = await kube.core.readNode({ name: node });
      return { running: isReady(n), paused: false, connected: true, ip: internalIp(n) };
    },
    async outOfReach(node) {
      return (await armedOn(kube, node)).some((f) => f.deadline > Date.now());
    },
    async processes(node, name) {
      const live = (await armedOn(kube, node)).find((f) => f.deadline > Date.now());
      if (live)
        throw new Error(
          `${node} is ${live.kind === 'stop' ? 'stopped' : 'cut off'} through the API: nothing can look into it until it returns; what ran there meanwhile is read from its watchdog's record (countsDuring)`,
        );
      return Number((await run(node, `pgrep -c '${name}' || [ $? -eq 1 ]`)).trim() || 0);
    },
    async countsDuring(node) {
      const id = last.get(node);
      if (!id) throw new Error(`no fault was made on ${node} by this run: no watchdog record to read`);
      return countsDuring(kube, image, node, id, AGENT_BOUND());
    },
    async kubeletJournal(node) {
      return run(node, 'journalctl -u kubelet --no-pager -n 400').catch((err: unknown) => String(err));
    },
    async exportLogs(dir) {
      for (const n of await provider.list()) {
        mkdirSync(join(dir, n.name), { recursive: true });
        for (const unit of ['kubelet', 'containerd']) {
          const log = await run(n.name, `journalctl -u ${unit} --no-pager -n 2000`).catch((err: unknown) =>
            String(err),
          );
          writeFileSync(join(dir, n.name, `${unit}.log`), log);
        }
      }
    },
  };
  return provider;
}
