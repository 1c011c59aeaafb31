// Whether a node's pod network matches its Node object. A Node deleted and registered again can get
// a new podCIDR; flanneld reads the podCIDR (and announces itself on the Node) only when it starts,
// so until the node reboots, its pods get addresses from the old range that no other node routes to.
import type { V1Node } from '@kubernetes/client-node';
import { $ } from 'zx';
import { CLUSTER_NAME } from './paths.ts';

const CONTROL_PLANE = `${CLUSTER_NAME}-control-plane`;

export const FLANNEL_PUBLIC_IP = 'flannel.alpha.coreos.com/public-ip';

/** The subnet flanneld handed to the node's CNI plugin, or undefined before flanneld wrote it. */
export async function flannelSubnet(container: string): Promise<string | undefined> {
  const r = await $`docker exec ${container} cat /run/flannel/subnet.env`.nothrow().quiet();
  return /^FLANNEL_SUBNET=(\S+)$/m.exec(r.stdout)?.[1];
}

/** What is wrong with the node's pod network, or undefined when flannel agrees with the Node. */
export function podNetworkMismatch(node: V1Node, subnet: string | undefined): string | undefined {
  const name = node.metadata?.name ?? '?';
  const cidr = node.spec?.podCIDR;
  if (!cidr) return `${name} has no podCIDR yet`;
  if (!node.metadata?.annotations?.[FLANNEL_PUBLIC_IP]) {
    return `flanneld has not announced itself on Node ${name} (no ${FLANNEL_PUBLIC_IP} annotation)`;
  }
  if (!subnet) return `flanneld on ${name} has written no subnet yet`;
  if (!inCidr(subnet.split('/')[0]!, cidr)) {
    return `flanneld on ${name} hands out ${subnet}, outside the Node's podCIDR ${cidr}: its pods would be unreachable`;
  }
  return undefined;
}

function ipv4(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return parts.reduce((n, p) => n * 256 + p, 0);
}

export function inCidr(address: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipv4(base) / size) * size;
  const n = ipv4(address);
  return n >= start && n < start + size;
}

/** The mismatch that remains after giving a starting flanneld `seconds` to write its subnet file.
 * A file on the node sends no events, so this one wait re-reads it (every 0.5 s). */
export async function podNetworkProblem(
  node: V1Node,
  container: string,
  seconds: number,
): Promise<string | undefined> {
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const problem = podNetworkMismatch(node, await flannelSubnet(container));
    if (!problem || performance.now() > deadline) return problem;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The routes a node has to other nodes' pod subnets (flannel host-gw: "10.244.x.0/24 via <peer>"). */
export async function peerPodRoutes(container: string): Promise<string[]> {
  const r = await $`docker exec ${container} ip -4 route show`.nothrow().quiet();
  return r.stdout.split('\n').filter((l) => /^10\.244\.\d+\.0\/24 via /.test(l));
}

/**
 * After a node is re-attached to its network, Docker names the new interface eth1: the routes to
 * the other nodes' pods went with eth0, and flanneld does not put them back (it holds the old link;
 * cut off from the API it may also be crash-looping, with kubelet's back-off growing). A new
 * flannel pod does, at once: it is deleted through the control plane's own kubectl (kind names a
 * Node after its container) and the DaemonSet makes another. Routes send no events, so this one
 * wait re-reads them (every 0.5 s) until every peer is routed or `seconds` pass.
 */
export async function restartFlanneld(container: string, peers: number, seconds: number): Promise<void> {
  const flannel = await $`docker exec ${container} crictl ps -a -q --name ^flanneld$`.nothrow().quiet();
  if (!flannel.stdout.trim()) return; // another CNI (kindnetd with stock images) reconciles its routes itself
  await $`docker exec ${CONTROL_PLANE} kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-flannel delete pod --wait=false -l app=flannel --field-selector ${`spec.nodeName=${container}`}`.quiet();
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const routes = await peerPodRoutes(container);
    if (routes.length >= peers) return;
    if (performance.now() > deadline) {
      throw new Error(
        `${container}: a new flannel pod was started but only ${routes.length} of ${peers} routes to other nodes' pods came back within ${seconds}s (${routes.join('; ') || 'none'}); its pods cannot reach pods elsewhere`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
