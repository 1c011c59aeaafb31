// The lab's own Docker network. kind's default `kind` network gets its IPv4 subnet from Docker's
// pool, and Docker refuses `network connect --ip` on such a network ("user specified IP address is
// supported only when connecting to networks with user configured subnets"), so a stopped node
// could not be started again on its own address. We create the network with an explicit subnet,
// chosen so it overlaps no other Docker network or host route.
import { $ } from 'zx';
import { LAB_NETWORK, LAB_NETWORK_LABEL } from './paths.ts';

/** The /16s tried in order: Docker's own bridge range, past the default bridge's 172.17. */
export const CANDIDATE_SUBNETS = Array.from({ length: 14 }, (_, i) => `172.${18 + i}.0.0/16`);

function toRange(cidr: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(cidr.trim());
  if (!m) return undefined; // IPv6 or "default": not an IPv4 range that can collide
  const [a, b, c, d] = m.slice(1, 5).map(Number) as [number, number, number, number];
  const bits = m[5] === undefined ? 32 : Number(m[5]);
  const base = (((a << 24) >>> 0) + (b << 16) + (c << 8) + d) >>> 0;
  const size = 2 ** (32 - bits);
  const start = base - (base % size);
  return [start, start + size - 1];
}

export function overlaps(x: string, y: string): boolean {
  const a = toRange(x);
  const b = toRange(y);
  return !!a && !!b && a[0] <= b[1] && b[0] <= a[1];
}

/** The first candidate that overlaps none of the subnets and routes in use; undefined if none is free. */
export function pickSubnet(inUse: string[], candidates = CANDIDATE_SUBNETS): string | undefined {
  return candidates.find((c) => !inUse.some((u) => overlaps(c, u)));
}

async function subnetsInUse(): Promise<string[]> {
  const ids = (await $`docker network ls -q`).stdout.split('\n').filter(Boolean);
  const docker = ids.length
    ? (await $`docker network inspect -f ${'{{range .IPAM.Config}}{{.Subnet}} {{end}}'} ${ids}`).stdout
    : '';
  // Host routes too: a VPN or a LAN in 172.x must stay reachable from the host.
  const routes = (await $`ip -4 route show`.nothrow()).stdout.split('\n').map((l) => l.split(' ')[0] ?? '');
  return [...docker.split(/\s+/), ...routes].filter((s) => s && s !== 'default');
}

/** The network's label, or undefined when no network of that name exists. */
async function labelOf(): Promise<string | undefined> {
  const r =
    await $`docker network inspect -f ${`{{index .Labels "${LAB_NETWORK_LABEL}"}}`} ${LAB_NETWORK}`.nothrow();
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** Creates the lab's network unless it exists; refuses a same-named network the lab did not make. */
export async function ensureLabNetwork(): Promise<string> {
  const label = await labelOf();
  if (label === 'true') return `${LAB_NETWORK} (existing)`;
  if (label !== undefined) {
    throw new Error(
      `A Docker network named ${LAB_NETWORK} exists but was not made by this project (no ${LAB_NETWORK_LABEL} label); the lab will not use it. Remove it (docker network rm ${LAB_NETWORK}) and run npm run cluster:up again.`,
    );
  }
  const inUse = await subnetsInUse();
  const subnet = pickSubnet(inUse);
  if (!subnet) {
    throw new Error(
      `No free subnet for the lab's Docker network: every one of ${CANDIDATE_SUBNETS[0]}…${CANDIDATE_SUBNETS.at(-1)} overlaps a Docker network or a route (${inUse.join(', ')}). Remove an unused Docker network (docker network prune) and try again.`,
    );
  }
  await $`docker network create --driver bridge --subnet ${subnet} --label ${`${LAB_NETWORK_LABEL}=true`} -o com.docker.network.bridge.enable_ip_masquerade=true ${LAB_NETWORK}`;
  return `${LAB_NETWORK} ${subnet} (created)`;
}

/** Removes the lab's network once no container uses it (cluster:down). */
export async function removeLabNetwork(): Promise<void> {
  if ((await labelOf()) !== 'true') return;
  await $`docker network rm ${LAB_NETWORK}`.nothrow();
}

/** The networks each container is attached to (also a stopped one), in one `docker inspect`. */
export async function networksOf(containers: string[]): Promise<Map<string, string[]>> {
  if (!containers.length) return new Map();
  const r =
    await $`docker inspect -f ${'{{.Name}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}'} ${containers}`;
  return new Map(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name = '', ...networks] = line.trim().split(/\s+/);
        return [name.replace(/^\//, ''), networks];
      }),
  );
}
