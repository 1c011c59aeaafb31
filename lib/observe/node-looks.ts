// A look at a process on a node at one moment, through the node-fault provider. A provider that
// cannot look into a node while its fault is on (the API provider, on a node it stopped or cut off)
// leaves the count unknown and notes the moment; the node's own record fills it in once it returns.
import type { NodeFaultProvider } from '../cluster/kind-nodes.ts';

/** `count` is absent while it cannot be known yet (settleLooks). */
export type Look = { at: number; count?: number };

/** Counts the processes matching `pattern` on `node` now, or notes the moment for the node's record. */
export async function lookAt(nodes: NodeFaultProvider, node: string, pattern: string): Promise<Look> {
  const at = Date.now();
  if (nodes.countsDuring && (await nodes.outOfReach?.(node))) return { at };
  return { at, count: await nodes.processes(node, pattern) };
}

/** A look's cell in a table: the count, or where it will come from. */
export const lookCell = (l: Look) => l.count ?? "cut off: read from the node's record when it returns";

/** Fills the looks the node could not answer from what its watchdog counted each second meanwhile:
 * the record nearest each moment, no more than two seconds from it (else the look stays unknown). */
export async function settleLooks(nodes: NodeFaultProvider, node: string, looks: Look[]): Promise<void> {
  if (looks.every((l) => l.count !== undefined)) return;
  const record = (await nodes.countsDuring?.(node)) ?? [];
  for (const l of looks.filter((k) => k.count === undefined)) {
    const distance = (r: Look) => Math.abs(r.at - l.at);
    l.count = record.filter((r) => distance(r) <= 2000).sort((a, b) => distance(a) - distance(b))[0]?.count;
  }
}
