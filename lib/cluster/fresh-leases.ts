// After nodes restart, their Node objects still say Ready from before the stop until the grace
// period runs out. A lease renewed after the restart is the proof that a kubelet is back: this
// watches the node leases and returns once every node has renewed since `since`.
import { spawn } from 'node:child_process';
import { KUBECONFIG_PATH, KUBE_CONTEXT } from './paths.ts';

export function waitForFreshLeases(nodes: string[], since: Date, timeoutSeconds: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const pending = new Set(nodes);
    const watch = spawn('kubectl', [
      '--kubeconfig',
      KUBECONFIG_PATH,
      '--context',
      KUBE_CONTEXT,
      'get',
      'leases',
      '-n',
      'kube-node-lease',
      '--watch',
      '--no-headers',
      '-o',
      'custom-columns=NAME:.metadata.name,RENEWED:.spec.renewTime',
    ]);
    const timer = setTimeout(() => {
      watch.kill();
      reject(
        new Error(
          `no lease renewed within ${timeoutSeconds}s of the restart for: ${[...pending].join(', ')}`,
        ),
      );
    }, timeoutSeconds * 1000);
    let buffered = '';
    watch.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [name, renewed] = line.trim().split(/\s+/);
        if (name && renewed && new Date(renewed) >= since) pending.delete(name);
      }
      if (pending.size === 0) {
        clearTimeout(timer);
        watch.kill();
        resolve();
      }
    });
    watch.on('exit', (code) => {
      if (pending.size > 0) {
        clearTimeout(timer);
        reject(
          new Error(`lease watch ended (exit ${code}) with nodes still silent: ${[...pending].join(', ')}`),
        );
      }
    });
  });
}
