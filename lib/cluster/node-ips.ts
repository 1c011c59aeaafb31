// Keeps each node container on the IP it had when the cluster was created. Docker hands out
// addresses in start order, so after a Docker restart the nodes could come back with each other's
// IPs, and the certificates, kubelet flags and flannel routes would point at the wrong nodes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { LAB_CACHE, LAB_NETWORK } from './paths.ts';

const NODE_IPS_PATH = join(LAB_CACHE, 'node-ips.json');

export async function currentIp(container: string): Promise<string> {
  const r =
    await $`docker inspect -f ${`{{with index .NetworkSettings.Networks "${LAB_NETWORK}"}}{{.IPAddress}}{{end}}`} ${container}`;
  return r.stdout.trim();
}

/** Called right after creation: remember the IPs and stop Docker from restarting nodes on its own. */
export async function recordNodeIps(containers: string[]): Promise<void> {
  const ips: Record<string, string> = {};
  for (const c of containers) ips[c] = await currentIp(c);
  writeFileSync(NODE_IPS_PATH, JSON.stringify(ips, null, 2));
  // cluster:up starts the nodes itself, pinned to these IPs; an automatic restart would race it.
  await $`docker update --restart=no ${containers}`;
}

export function recordedNodeIps(): Record<string, string> {
  return existsSync(NODE_IPS_PATH)
    ? (JSON.parse(readFileSync(NODE_IPS_PATH, 'utf8')) as Record<string, string>)
    : {};
}

/** Re-attaches stopped containers to the lab's network with their recorded IPs. */
export async function pinNodeIps(stoppedContainers: string[]): Promise<void> {
  const ips = recordedNodeIps();
  const pinned = stoppedContainers.filter((c) => ips[c]);
  // Disconnect all first: the IPs may have been swapped among them.
  for (const c of pinned) await $`docker network disconnect ${LAB_NETWORK} ${c}`.nothrow();
  for (const c of pinned) await $`docker network connect --ip ${ips[c]!} ${LAB_NETWORK} ${c}`;
}
