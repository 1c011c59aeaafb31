// One node fault at a time on this machine. Two runs (say `npm test` next to `npm run scenario`)
// each stopping a worker would take two of the three workers down, past the disruption threshold
// the scenarios rely on. Whoever faults a node holds this lock until its node faults are undone;
// another run waits for it. The lock file names its holder's pid, so a lock left by kill -9 is
// recognised as stale and taken over. A process may lend the lock to the children it starts
// (LAB_NODE_FAULT_LOCK_HOLDER), e.g. a test that runs a fault in a child it then kills.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, watch, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { processAlive } from './journal.ts';
import { NODE_FAULT_LOCK_PATH } from '../cluster/paths.ts';

export const LOCK_HOLDER_ENV = 'LAB_NODE_FAULT_LOCK_HOLDER';

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

/** How many holds this process has (a test may hold it around faults that take it again). */
let holds = 0;
let exitHookInstalled = false;

/**
 * Takes the node-fault lock, waiting up to `timeoutSeconds` for another run to release it. Woken by
 * the lock file's removal; a holder that dies without removing it is noticed by a recheck every 2 s
 * (a process's death has no event another process can subscribe to).
 */
export async function acquireNodeFaultLock(
  what: string,
  timeoutSeconds: number,
  path = NODE_FAULT_LOCK_PATH,
): Promise<void> {
  if (holds > 0) {
    holds++;
    return;
  }
  let holder = tryTake(path, what);
  if (holder) {
    console.error(
      `[harness] waiting for pid ${holder.pid} (${holder.what}, since ${holder.at}) to undo its node fault before: ${what}`,
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
        `pid ${holder.pid} still holds the node-fault lock (${holder.what}, since ${holder.at}) after ${timeoutSeconds}s: one node fault at a time on this machine. Wait for that run, or remove ${path} if it is not a lab run.`,
      );
    }
  }
  holds = 1;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      holds = 1;
      releaseNodeFaultLock(path);
    });
  }
}

/** Gives back one hold; the last one removes the lock file if this process (not a lender) wrote it. */
export function releaseNodeFaultLock(path = NODE_FAULT_LOCK_PATH): void {
  if (holds === 0) return;
  if (--holds > 0) return;
  if (readLock(path)?.pid === process.pid) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}
