// Machine-wide locks, one file each, naming the holder's pid so that a lock left by kill -9 is
// recognised as stale and taken over.
// - The node-fault lock: one node fault at a time on this machine. Two runs (say `npm test` next
//   to `npm run scenario`) each stopping a worker would take two of the three workers down, past
//   the disruption threshold the scenarios rely on. Whoever faults a node holds it until its node
//   faults are undone. A process may lend it to the children it starts
//   (LAB_NODE_FAULT_LOCK_HOLDER), e.g. a test that runs a fault in a child it then kills.
// - The cluster lock: one cluster:up or cluster:down at a time. Two at once would each create,
//   recreate or delete the cluster under the other.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, watch, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CLUSTER_LOCK_PATH, NODE_FAULT_LOCK_PATH } from './paths.ts';

export const LOCK_HOLDER_ENV = 'LAB_NODE_FAULT_LOCK_HOLDER';

/** Whether a process with this pid is alive (EPERM: alive, but another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LockInfo {
  pid: number;
  what: string;
  at: string;
}

export function readLock(path = NODE_FAULT_LOCK_PATH): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  } catch {
    return undefined; // absent, or cut while being written (its writer will finish or die)
  }
}

/** Pids this process counts as itself: its own, and a parent that lent it the lock. */
function ours(pid: number): boolean {
  return pid === process.pid || String(pid) === process.env[LOCK_HOLDER_ENV];
}

function tryTake(path: string, what: string): LockInfo | undefined {
  mkdirSync(dirname(path), { recursive: true });
  const info: LockInfo = { pid: process.pid, what, at: new Date().toISOString() };
  try {
    const fd = openSync(path, 'wx'); // atomic: exactly one process creates it
    writeSync(fd, JSON.stringify(info));
    closeSync(fd);
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = readLock(path);
  if (!holder) return { pid: 0, what: 'being written', at: '' };
  if (ours(holder.pid)) return undefined;
  if (!processAlive(holder.pid)) {
    // Left by a run that was killed: its journal replay repairs the node; the lock is free.
    try {
      unlinkSync(path);
    } catch {
      // another waiter removed it first
    }
    return tryTake(path, what);
  }
  return holder;
}

/** How many holds this process has of each lock (a test may hold one around faults that take it again). */
const holds = new Map<string, number>();
let exitHookInstalled = false;

/**
 * Takes the lock at `path` (`label` names it in messages), waiting up to `timeoutSeconds` for
 * another process to release it. Woken by the lock file's removal; a holder that dies without
 * removing it is noticed by a recheck every 2 s (a process's death has no event another process
 * can subscribe to).
 */
export async function acquireLock(path: string, label: string, what: string, timeoutSeconds: number) {
  const held = holds.get(path) ?? 0;
  if (held > 0) {
    holds.set(path, held + 1);
    return;
  }
  let holder = tryTake(path, what);
  if (holder) {
    console.error(
      `[harness] waiting for pid ${holder.pid} (${holder.what}, since ${holder.at}) to release the ${label} before: ${what}`,
    );
    holder = await new Promise<LockInfo | undefined>((resolve) => {
      const check = () => {
        const h = tryTake(path, what);
        if (!h) finish(undefined);
      };
      const watcher = watch(dirname(path), (_event, file) => {
        if (file === basename(path)) check();
      });
      const recheck = setInterval(check, 2000);
      const deadline = setTimeout(() => finish(tryTake(path, what)), timeoutSeconds * 1000);
      function finish(h: LockInfo | undefined) {
        watcher.close();
        clearInterval(recheck);
        clearTimeout(deadline);
        resolve(h);
      }
      check();
    });
    if (holder) {
      throw new Error(
        `pid ${holder.pid} still holds the ${label} (${holder.what}, since ${holder.at}) after ${timeoutSeconds}s. Wait for that run, or remove ${path} if it is not a lab run.`,
      );
    }
  }
  holds.set(path, 1);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const p of holds.keys()) {
        holds.set(p, 1);
        releaseLock(p);
      }
    });
  }
}

/** Gives back one hold; the last one removes the lock file if this process (not a lender) wrote it. */
export function releaseLock(path: string): void {
  const held = holds.get(path) ?? 0;
  if (held === 0) return;
  holds.set(path, held - 1);
  if (held > 1) return;
  if (readLock(path)?.pid === process.pid) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

/** One node fault at a time on this machine: see the top of this file. */
export const acquireNodeFaultLock = (what: string, timeoutSeconds: number, path = NODE_FAULT_LOCK_PATH) =>
  acquireLock(path, 'node-fault lock', `${what}`, timeoutSeconds);
export const releaseNodeFaultLock = (path = NODE_FAULT_LOCK_PATH) => releaseLock(path);

/** One cluster:up or cluster:down at a time; a cold cluster:up builds for up to half an hour. */
export const acquireClusterLock = (what: string) =>
  acquireLock(CLUSTER_LOCK_PATH, 'cluster lock', what, 1800);
export const releaseClusterLock = () => releaseLock(CLUSTER_LOCK_PATH);
