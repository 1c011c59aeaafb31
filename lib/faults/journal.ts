// The undo journal. Every fault writes how to undo it BEFORE it acts, and marks it done once undone,
// so that whatever stops the run (the end of a scenario, Ctrl-C, a crash, kill -9) the next start
// finds what is still broken and repairs it.
//
// Each entry names the process that wrote it. A run undoes its own faults when it ends or is
// interrupted, and at start repairs only orphans: faults whose writer is no longer alive. So two
// runs on one machine (say, the harness's tests next to a scenario) never undo each other's faults.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, type Kube } from '../cluster/kube.ts';
import { kindNodes, type NodeFaultProvider } from '../cluster/kind-nodes.ts';
import { apiNodes } from '../cluster/api-nodes.ts';
import { JOURNAL_PATH, KUBE_CONTEXT } from '../cluster/paths.ts';
import { TARGET } from '../cluster/target.ts';
import { processAlive } from '../cluster/lock.ts';

/** A JSON patch operation (RFC 6902), as the API server takes it. */
export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** A node undo names its provider when it is not Docker (older entries have none). */
type Via = { provider?: 'api' };
export type UndoAction =
  | ({ action: 'start-node'; node: string; ip?: string } & Via)
  | ({ action: 'unpause-node'; node: string } & Via)
  | ({ action: 'reconnect-node'; node: string; ip: string } & Via)
  | ({ action: 'reboot-node'; node: string; ip: string } & Via)
  /** Written by versions before reboot-node; replayed as a reboot on the node's current address. */
  | { action: 'restart-kubelet'; node: string }
  | { action: 'remove-taint'; node: string; key: string }
  | { action: 'delete-namespace'; namespace: string }
  | { action: 'patch-statefulset'; namespace: string; name: string; patch: PatchOp[] };

export interface Entry {
  id: string;
  state: 'pending' | 'done';
  what?: string;
  undo?: UndoAction;
  /** Process that injected the fault (absent in entries of older versions: treated as orphans). */
  pid?: number;
  /** The cluster it was done to, when not the lab's (LAB_CLUSTER): replayed only there. */
  context?: string;
  at: string;
}

export type PendingEntry = Entry & { undo: UndoAction };

export interface UndoDeps {
  nodes?: NodeFaultProvider;
  /** Needed for undos that go through the API (taints, namespaces, StatefulSets). */
  kube?: Kube;
  journalPath?: string;
}

/** Reads journal text into entries; a line cut by kill -9 mid-write is skipped (nothing ran after it). */
export function parseJournal(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as Entry);
    } catch {
      continue;
    }
  }
  return entries;
}

/** Entries still pending once every later "done" line is applied, in the order they were written. */
export function pendingOf(entries: Entry[]): PendingEntry[] {
  const open = new Map<string, PendingEntry>();
  for (const e of entries) {
    if (e.state === 'pending' && e.undo) open.set(e.id, e as PendingEntry);
    else open.delete(e.id);
  }
  return [...open.values()];
}

export function pendingUndos(journalPath = JOURNAL_PATH): PendingEntry[] {
  if (!existsSync(journalPath)) return [];
  return pendingOf(parseJournal(readFileSync(journalPath, 'utf8')));
}

/** Whether a process of this machine is alive (EPERM: alive, someone else's). */
export type ReplayScope = 'orphans' | 'mine' | 'all';

/** Which pending entries a replay may undo: a live process's faults are its own business. */
export function selectPending(
  pending: PendingEntry[],
  scope: ReplayScope,
  alive: (pid: number) => boolean = processAlive,
  myPid = process.pid,
): PendingEntry[] {
  if (scope === 'all') return pending;
  if (scope === 'mine') return pending.filter((e) => e.pid === myPid);
  return pending.filter((e) => e.pid === undefined || (e.pid !== myPid && !alive(e.pid)));
}

function write(entry: Entry, journalPath: string): void {
  mkdirSync(dirname(journalPath), { recursive: true });
  appendFileSync(journalPath, JSON.stringify(entry) + '\n');
}

function notFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

/** The client for undos through the API: the one given, or a guarded connection of our own (an exit
 * handler or a start-up replay may run before anything connected). */
async function client(deps: UndoDeps): Promise<Kube> {
  deps.kube ??= await connect();
  return deps.kube;
}

export async function runUndo(undo: UndoAction, deps: UndoDeps = {}): Promise<void> {
  const via = 'provider' in undo ? undo.provider : undefined;
  const nodes = deps.nodes ?? (via === 'api' ? apiNodes(await client(deps)) : kindNodes);
  switch (undo.action) {
    case 'start-node':
      return nodes.start(undo.node, undo.ip);
    case 'unpause-node':
      return nodes.unpause(undo.node);
    case 'reconnect-node':
      return nodes.reconnect(undo.node, undo.ip);
    case 'reboot-node':
      // A kubelet restart alone re-registers the Node, but with a new podCIDR that the running
      // flanneld never learns: pods scheduled there get addresses no other node routes to. A
      // stopped node boots anyway; a running one is rebooted so that flannel starts afresh.
      return nodes.reboot(undo.node, undo.ip);
    case 'restart-kubelet':
      return nodes.reboot(undo.node, (await nodes.state(undo.node)).ip);
    case 'remove-taint': {
      const kube = await client(deps);
      let node;
      try {
        node = await kube.core.readNode({ name: undo.node });
      } catch (err) {
        if (notFound(err)) return; // the Node object is gone, and its taint with it
        throw err;
      }
      const taints = node.spec?.taints ?? [];
      if (!taints.some((t) => t.key === undo.key)) return;
      await kube.core.patchNode({
        name: undo.node,
        body: [{ op: 'replace', path: '/spec/taints', value: taints.filter((t) => t.key !== undo.key) }],
      });
      return;
    }
    case 'delete-namespace': {
      await (await client(deps)).core.deleteNamespace({ name: undo.namespace }).catch((err: unknown) => {
        if (!notFound(err)) throw err;
      });
      return;
    }
    case 'patch-statefulset': {
      await (
        await client(deps)
      ).apps
        .patchNamespacedStatefulSet({ namespace: undo.namespace, name: undo.name, body: undo.patch })
        .catch((err: unknown) => {
          if (!notFound(err)) throw err; // its namespace was deleted: nothing left to restore
        });
      return;
    }
  }
}

/** A fault with its undo journaled first. Returns the undo, which also marks the entry done. */
export async function journaled(
  what: string,
  undo: UndoAction,
  act: () => Promise<unknown>,
  deps: UndoDeps = {},
): Promise<() => Promise<void>> {
  const journalPath = deps.journalPath ?? JOURNAL_PATH;
  const id = randomUUID();
  const context = TARGET.foreign ? { context: TARGET.context } : {};
  write(
    { id, state: 'pending', what, undo, pid: process.pid, ...context, at: new Date().toISOString() },
    journalPath,
  );
  let undone = false;
  const undoIt = async () => {
    if (undone) return;
    await runUndo(undo, deps);
    undone = true;
    write({ id, state: 'done', at: new Date().toISOString() }, journalPath);
  };
  try {
    await act();
  } catch (err) {
    await undoIt().catch(() => undefined);
    throw err;
  }
  return undoIt;
}

/**
 * Undoes pending faults, newest first, and marks each done. By default only orphans (their writer
 * is gone: a crashed or killed run); `mine` is this process's, for its exit. Every undo is tried;
 * the ones that fail stay pending for the next start and are reported together.
 */
export async function replayPending(deps: UndoDeps & { scope?: ReplayScope } = {}): Promise<string[]> {
  const journalPath = deps.journalPath ?? JOURNAL_PATH;
  const done: string[] = [];
  const failed: string[] = [];
  const here = (e: PendingEntry) => (e.context ?? KUBE_CONTEXT) === TARGET.context;
  const todo = selectPending(pendingUndos(journalPath).filter(here), deps.scope ?? 'orphans').reverse();
  for (const e of todo) {
    try {
      await runUndo(e.undo, deps);
    } catch (err) {
      failed.push(`${e.what ?? e.undo.action}: ${String(err)}`);
      continue;
    }
    write({ id: e.id, state: 'done', at: new Date().toISOString() }, journalPath);
    done.push(`${e.what ?? e.undo.action}: ${JSON.stringify(e.undo)}`);
  }
  if (failed.length) {
    throw new Error(`could not undo (still journaled in ${journalPath}): ${failed.join('; ')}`);
  }
  return done;
}

let handlersInstalled = false;
/** On Ctrl-C, SIGTERM or an uncaught error: undo this run's pending faults, then exit non-zero. */
export function undoOnExit(deps: UndoDeps = {}): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let bailing = false;
  const bail = (code: number, why: string) => {
    if (bailing) {
      console.error(`[harness] ${why} again while undoing: the journal keeps the rest for the next start`);
      process.exit(code);
    }
    bailing = true;
    console.error(`\n[harness] ${why}: undoing injected faults…`);
    replayPending({ ...deps, scope: 'mine' })
      .then((undone) => undone.forEach((u) => console.error(`[harness] undone ${u}`)))
      .catch((err) => console.error(`[harness] undo failed, the next start retries it: ${err}`))
      .finally(() => process.exit(code));
  };
  process.on('SIGINT', () => bail(130, 'interrupted'));
  process.on('SIGTERM', () => bail(143, 'terminated'));
  process.once('uncaughtException', (err) => bail(1, `uncaught error ${err.stack ?? err}`));
  process.once('unhandledRejection', (err) => bail(1, `unhandled rejection ${String(err)}`));
}
