// The benchmark's common reference: a raw watch of one pod, in a process of its own, opened before
// the action. It shares nothing with the contenders but the machine's clock. Prints "open" once the
// server answered the watch, then one JSON line per event: when it arrived, its type, uid, Ready.
import * as k8s from '@kubernetes/client-node';
import { connect } from '../../lib/cluster/kube.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';

const [ns, pod] = process.argv.slice(2);
if (!ns || !pod) throw new Error('usage: raw-watch.ts NAMESPACE POD');
const { kc } = await connect();
const path = `/api/v1/namespaces/${ns}/pods`;
await new k8s.Watch(kc).watch(
  path,
  { fieldSelector: `metadata.name=${pod}` },
  (type: string, p: k8s.V1Pod) => {
    const line = { at: Date.now(), type, uid: p.metadata?.uid, ready: isPodReady(p) };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  },
  (err: unknown) => {
    if (err) process.stderr.write(`raw watch ended: ${String(err)}\n`);
    process.exit(err ? 1 : 0);
  },
);
process.stdout.write('open\n');
