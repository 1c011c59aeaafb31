// The ways of deciding "mysql-0 was replaced and is Ready again" that the benchmark compares, each
// started before the action and timed when it decides. Each one pays what it costs a user: a
// kubectl or chainsaw process is started and stopped by it, as it would be in a test suite.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { KUBECONFIG_PATH, KUBE_CONTEXT } from '../../lib/cluster/paths.ts';
import { isPodReady } from '../../lib/observe/k8s-facts.ts';
import type { Recorder } from '../../lib/observe/recorder.ts';
import { until } from '../../lib/observe/waits.ts';

/** One contender in one run: `watching` once it can see the change, `decided` with its wall ms. */
export interface Attempt {
  watching: Promise<void>;
  decided: Promise<number>;
  stop(): void;
}

export interface Target {
  ns: string;
  pod: string;
  oldUid: string;
  timeoutSeconds: number;
}

export interface Contender {
  name: string;
  how: string;
  start(t: Target): Attempt;
}

/** A child process: watching once a line of its output matches `ready`, decided when it exits 0. */
function processAttempt(
  cmd: string,
  args: string[],
  ready: RegExp | 'spawn',
  env: NodeJS.ProcessEnv = process.env,
): Attempt {
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  let markWatching!: () => void;
  const watching = new Promise<void>((r) => (markWatching = r));
  if (ready === 'spawn') child.once('spawn', markWatching);
  const seen = (chunk: Buffer) => {
    output += chunk.toString();
    if (ready !== 'spawn' && ready.test(output)) markWatching();
  };
  child.stdout!.on('data', seen);
  child.stderr!.on('data', seen);
  const decided = new Promise<number>((resolve, reject) =>
    child.once('exit', (code) => {
      const at = Date.now();
      markWatching();
      if (code === 0) resolve(at);
      else reject(new Error(`${cmd} exited ${code}: ${output.slice(-500)}`));
    }),
  );
  return { watching, decided, stop: () => child.kill() };
}

const kubectlArgs = (args: string[]) => ['--kubeconfig', KUBECONFIG_PATH, '--context', KUBE_CONTEXT, ...args];

export function harness(rec: Recorder): Contender {
  return {
    name: 'harness',
    how: 'recorder watch + until(), in process',
    start({ ns, pod, oldUid, timeoutSeconds }) {
      const ready = () => {
        const p = rec.get<V1Pod>('pods', pod, ns);
        return p && p.metadata?.uid !== oldUid && !p.metadata?.deletionTimestamp && isPodReady(p);
      };
      const decided = until(rec, ready, { timeout: timeoutSeconds, why: `new ${pod} Ready (bench)` }).then(
        () => Date.now(),
      );
      return { watching: Promise.resolve(), decided, stop: () => undefined };
    },
  };
}

export const kubectlWait: Contender = {
  name: 'kubectl wait',
  how: 'kubectl wait --for=delete, --for=create, then --for=condition=Ready (each watches)',
  start({ ns, pod, timeoutSeconds }) {
    const wait = (what: string) =>
      `kubectl ${kubectlArgs(['wait', '-n', ns, `--for=${what}`, `pod/${pod}`, `--timeout=${timeoutSeconds}s`]).join(' ')}`;
    // -v=6 logs each request: the watch's URL says when it is open.
    return processAttempt(
      'sh',
      ['-c', `${wait('delete')} -v=6 && ${wait('create')} && ${wait('condition=Ready')}`],
      /watch=true/,
    );
  },
};

/** kubectl get every `seconds`, each one a new process, as a polling test suite does. */
export function kubectlPoll(seconds: number): Contender {
  return {
    name: `kubectl get, ${seconds} s`,
    how: `kubectl get pod every ${seconds}s until a new uid is Ready`,
    start({ ns, pod, oldUid, timeoutSeconds }) {
      let stopped = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let markWatching!: () => void;
      const watching = new Promise<void>((r) => (markWatching = r));
      const deadline = Date.now() + timeoutSeconds * 1000;
      const decided = new Promise<number>((resolve, reject) => {
        const poll = () => {
          if (stopped) return;
          if (Date.now() > deadline) return reject(new Error('polling timed out'));
          const p = spawn('kubectl', kubectlArgs(['get', 'pod', '-n', ns, pod, '-o', 'json']));
          let out = '';
          p.stdout.on('data', (c: Buffer) => (out += c.toString()));
          p.on('exit', () => {
            const at = Date.now();
            markWatching();
            let seen: V1Pod | undefined;
            try {
              seen = JSON.parse(out) as V1Pod;
            } catch {
              // no such pod at this moment
            }
            if (seen && seen.metadata?.uid !== oldUid && isPodReady(seen)) resolve(at);
            else timer = setTimeout(poll, seconds * 1000);
          });
        };
        poll();
      });
      return {
        watching,
        decided,
        stop: () => {
          stopped = true;
          clearTimeout(timer);
        },
      };
    },
  };
}

/** A chainsaw Test asserting the same: mysql-0 with another uid, Ready=True. */
export function chainsaw(bin: string): Contender {
  return {
    name: 'chainsaw assert',
    how: 'chainsaw test with one assert step (its own polling)',
    start({ ns, pod, oldUid, timeoutSeconds }) {
      const dir = mkdtempSync(join(tmpdir(), 'lab-bench-chainsaw-'));
      writeFileSync(
        join(dir, 'chainsaw-test.yaml'),
        [
          'apiVersion: chainsaw.kyverno.io/v1alpha1',
          'kind: Test',
          'metadata: { name: replaced }',
          'spec:',
          '  steps:',
          '    - try:',
          '        - assert:',
          '            resource:',
          '              apiVersion: v1',
          '              kind: Pod',
          `              metadata: { name: ${pod}, namespace: ${ns} }`,
          `              (metadata.uid != '${oldUid}'): true`,
          '              status:',
          "                (conditions[?type == 'Ready']):",
          "                  - status: 'True'",
          '',
        ].join('\n'),
      );
      const args = ['test', dir, '--kube-context', KUBE_CONTEXT, '--namespace', ns, '--skip-delete'];
      args.push('--assert-timeout', `${timeoutSeconds}s`, '--no-color', '--parallel', '1');
      // chainsaw reads its cluster from KUBECONFIG; its log line "ASSERT | RUN" says it is looking.
      const env = { ...process.env, KUBECONFIG: KUBECONFIG_PATH };
      return processAttempt(bin, args, /ASSERT\s*\|\s*RUN/, env);
    },
  };
}
