// Waiting for Enter between steps. Lines are read in cooked mode (terminal: false), so the terminal
// still turns Ctrl-C into SIGINT and the journal's exit handler cleans up. When input ends (a pipe,
// /dev/null, CI) the lab stops pausing instead of hanging.
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';

export class Pauser {
  private rl?: Interface;
  private ended = false;
  private waiting?: () => void;
  private readonly enabled: boolean;
  private readonly input: Readable;

  constructor(enabled: boolean, input: Readable = process.stdin) {
    this.enabled = enabled;
    this.input = input;
  }

  /** Shows the prompt and resolves on the next line typed; at once with --no-pause or after EOF. */
  wait(prompt: string, write: (s: string) => void): Promise<void> {
    if (!this.enabled || this.ended) return Promise.resolve();
    this.rl ??= this.open();
    write(prompt);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private open(): Interface {
    const rl = createInterface({ input: this.input, terminal: false });
    rl.on('line', () => this.wake());
    rl.on('close', () => {
      this.ended = true;
      this.wake();
    });
    return rl;
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** Lets go of stdin, so the process can exit. */
  close(): void {
    this.rl?.close();
  }
}
