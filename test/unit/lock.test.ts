import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acquireLock,
  acquireNodeFaultLock,
  LOCK_HOLDER_ENV,
  readLock,
  releaseLock,
  releaseNodeFaultLock,
} from '../../lib/cluster/lock.ts';

describe('node-fault lock: one run with a node faulted at a time', () => {
  let dir: string;
  let path: string;
  let other: ChildProcess | undefined;
  const hold = (pid: number) =>
    writeFileSync(path, JSON.stringify({ pid, what: 'stop node w1', at: 'then' }));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lab-lock-'));
    path = join(dir, 'node-fault.lock');
  });
  afterEach(() => {
    other?.kill('SIGKILL');
    other = undefined;
    delete process.env[LOCK_HOLDER_ENV];
    rmSync(dir, { recursive: true, force: true });
  });

  function liveProcess(): number {
    other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    return other.pid!;
  }

  it('is taken when free, names its holder, and is gone after the last release', async () => {
    await acquireNodeFaultLock('stop node w1', 1, path);
    expect(readLock(path)).to.include({ pid: process.pid, what: 'stop node w1' });
    await acquireNodeFaultLock('pause node w1', 1, path); // nested: a test around a fault
    releaseNodeFaultLock(path);
    expect(existsSync(path), 'still held once').to.equal(true);
    releaseNodeFaultLock(path);
    expect(existsSync(path)).to.equal(false);
  });

  it('takes over a lock whose holder was killed', async () => {
    hold(spawnSync(process.execPath, ['-e', '']).pid!);
    await acquireNodeFaultLock('stop node w1', 1, path);
    expect(readLock(path)?.pid).to.equal(process.pid);
    releaseNodeFaultLock(path);
  });

  it('waits for a live holder and goes on as soon as it lets go', async () => {
    hold(liveProcess());
    const t0 = performance.now();
    setTimeout(() => unlinkSync(path), 300);
    await acquireNodeFaultLock('stop node w2', 5, path);
    const waited = performance.now() - t0;
    expect(waited).to.be.within(250, 1500);
    expect(readLock(path)?.pid).to.equal(process.pid);
    releaseNodeFaultLock(path);
  });

  it('gives up after its bound, naming the holder', async () => {
    const pid = liveProcess();
    hold(pid);
    const err = await acquireNodeFaultLock('stop node w2', 1, path).catch((e: unknown) => e);
    expect(String(err)).to.match(
      new RegExp(`pid ${pid} still holds the node-fault lock \\(stop node w1, since then\\) after 1s`),
    );
    expect(readLock(path)?.pid).to.equal(pid);
  });

  it('a child counts a lock its parent lent it as its own, and leaves it to the parent', async () => {
    const parent = liveProcess();
    hold(parent);
    process.env[LOCK_HOLDER_ENV] = String(parent);
    await acquireNodeFaultLock('stop node w1', 1, path);
    releaseNodeFaultLock(path);
    expect(readLock(path)?.pid, 'still the parent’s').to.equal(parent);
  });

  it('each lock file is its own lock: holding one neither takes nor releases another', async () => {
    const cluster = join(dir, 'cluster.lock');
    await acquireNodeFaultLock('stop node w1', 1, path);
    const pid = liveProcess();
    writeFileSync(cluster, JSON.stringify({ pid, what: 'cluster:up', at: 'then' }));
    const err = await acquireLock(cluster, 'cluster lock', 'cluster:down', 1).catch((e: unknown) => e);
    expect(String(err)).to.match(
      new RegExp(`pid ${pid} still holds the cluster lock \\(cluster:up, since then\\)`),
    );
    releaseLock(cluster);
    expect(readLock(cluster)?.pid, 'the other holder keeps it').to.equal(pid);
    releaseNodeFaultLock(path);
    expect(existsSync(path)).to.equal(false);
  });
});
