// A TCP proxy between the harness and the API server that can disturb the connections the way real
// networks do: stall them silently (no FIN, no RST: a NAT entry timing out, a paused middlebox) or
// reset them. Connections opened after a stall pass normally, as through a NAT that forgot only
// the old flows.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';

export interface StallProxy {
  /** A kubeconfig like the lab's, pointing at the proxy (kind's certificate is valid for 127.0.0.1). */
  kc: k8s.KubeConfig;
  /** Stops every byte on the connections open now, both ways, without closing them. */
  stall(): void;
  /** Resets every connection open now (RST), as a middlebox that dropped its state does. */
  reset(): void;
  /** Lets stalled connections flow again. */
  resume(): void;
  close(): Promise<void>;
}

export async function stallProxy(labKc: k8s.KubeConfig): Promise<StallProxy> {
  const target = new URL(labKc.getCurrentCluster()!.server);
  const pairs = new Set<[Socket, Socket]>();
  const stalled = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kc = new k8s.KubeConfig();
  kc.loadFromString(labKc.exportConfig());
  const cluster = kc.getCurrentCluster()!;
  kc.clusters = kc.clusters.map((c) =>
    c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${port}` } : c,
  );
  return {
    kc,
    stall() {
      for (const pair of pairs)
        for (const s of pair) {
          // Unpiped and paused: nothing is read or written, and the kernel keeps the flow open.
          s.unpipe();
          s.pause();
          stalled.add(s);
        }
    },
    reset() {
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
    },
    resume() {
      for (const [client, upstream] of pairs) {
        if (!stalled.has(client)) continue;
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        upstream.resume();
      }
      stalled.clear();
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
