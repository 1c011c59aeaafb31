// The undo journal. Every fault writes how to undo it BEFORE it acts, and marks it done once undone,
// so that whatever stops the run (the end of a scenario, Ctrl-C, a crash, kill -9) the next start
// finds what is still broken and repairs it.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Kube } from './kube.ts';
import { kindNodes, type NodeFaultProvider } from './nodes.ts';
import { JOURNAL_PATH } from './paths.ts';

export type UndoAction =
  | { action: 'start-node'; node: string }
  | { action: 'unpause-node'; node: string }
  | { action: 'reconnect-node'; node: string; ip: string }
  | { action: 'restart-kubelet'; node: string }
  | { action: 'remove-taint'; node: string; key: string }
  | { action: 'delete-namespace'; namespace: string };

interface Entry {
  id: string;
  state: 'pending' | 'done';
  what?: string;
  undo?: UndoAction;
  at: string;
}

export interface UndoDeps {
  nodes?: NodeFaultProvider;
  /** Needed for undos that go through the API (taints, namespaces). */
  kube?: Kube;
  journalPath?: string;
}

export function pendingUndos(journalPath = JOURNAL_PATH): Array<Entry & { undo: UndoAction }> {
  if (!existsSync(journalPath)) return [];
  const open = new Map<string, Entry & { undo: UndoAction }>();
  for (const line of readFileSync(journalPath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let e: Entry;
    try {
      e = JSON.parse(line) as Entry;
    } catch {
      continue; // a line cut by kill -9 mid-write: nothing was done after it
    }
    if (e.state === 'pending' && e.undo) open.set(e.id, e as Entry & { undo: UndoAction });
    else open.delete(e.id);
  }
  return [...open.values()];
}

function write(entry: Entry, journalPath: string): void {
  mkdirSync(dirname(journalPath), { recursive: true });
  appendFileSync(journalPath, JSON.stringify(entry) + '\n');
}

export async function runUndo(undo: UndoAction, deps: UndoDeps = {}): Promise<void> {
  const nodes = deps.nodes ?? kindNodes;
  switch (undo.action) {
    case 'start-node':
      return nodes.start(undo.node);
    case 'unpause-node':
      return nodes.unpause(undo.node);
    case 'reconnect-node':
      return nodes.reconnect(undo.node, undo.ip);
    case 'restart-kubelet':
      return nodes.restartKubelet(undo.node);
    case 'remove-taint': {
      if (!deps.kube) throw new Error('removing a taint needs the cluster client');
      const node = await deps.kube.core.readNode({ name: undo.node });
      const taints = (node.spec?.taints ?? []).filter((t) => t.key !== undo.key);
      await deps.kube.core.patchNode({
        name: undo.node,
        body: [{ op: 'replace', path: '/spec/taints', value: taints }],
      });
      return;
    }
    case 'delete-namespace': {
      if (!deps.kube) throw new Error('deleting a namespace needs the cluster client');
      await deps.kube.core.deleteNamespace({ name: undo.namespace }).catch((err: { code?: number }) => {
        if (err.code !== 404) throw err;
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
  write({ id, state: 'pending', what, undo, at: new Date().toISOString() }, journalPath);
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

/** Repairs what an earlier run left broken. Returns what it undid. */
export async function replayPending(deps: UndoDeps = {}): Promise<string[]> {
  const journalPath = deps.journalPath ?? JOURNAL_PATH;
  const done: string[] = [];
  for (const e of pendingUndos(journalPath)) {
    await runUndo(e.undo, deps);
    write({ id: e.id, state: 'done', at: new Date().toISOString() }, journalPath);
    done.push(`${e.what ?? e.undo.action}: ${JSON.stringify(e.undo)}`);
  }
  return done;
}

let handlersInstalled = false;
/** On Ctrl-C, SIGTERM or an uncaught error: undo every pending fault, then exit non-zero. */
export function undoOnExit(deps: UndoDeps = {}): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const bail = (code: number, why: string) => {
    console.error(`\n[harness] ${why}: undoing injected faults…`);
    replayPending(deps)
      .then((undone) => undone.forEach((u) => console.error(`[harness] undone ${u}`)))
      .catch((err) => console.error(`[harness] undo failed, the next start retries it: ${err}`))
      .finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail(130, 'interrupted'));
  process.once('SIGTERM', () => bail(143, 'terminated'));
  process.once('uncaughtException', (err) => bail(1, `uncaught error ${err.stack ?? err}`));
  process.once('unhandledRejection', (err) => bail(1, `unhandled rejection ${String(err)}`));
}
