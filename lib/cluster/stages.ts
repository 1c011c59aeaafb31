// Stage runner for cluster:up: prints each stage with its elapsed time, and on failure names the
// stage and where its log is.
import { $ } from 'zx';

export interface StageTiming {
  stage: string;
  seconds: number;
}

export const timings: StageTiming[] = [];

export async function stage<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  console.log(`[cluster] ${name}…`);
  try {
    const result = await work();
    const seconds = (performance.now() - t0) / 1000;
    timings.push({ stage: name, seconds });
    console.log(`[cluster] ${name}: done in ${seconds.toFixed(1)}s`);
    return result;
  } catch (err) {
    const seconds = (performance.now() - t0) / 1000;
    console.error(`[cluster] ${name}: FAILED after ${seconds.toFixed(1)}s`);
    throw err;
  }
}

/** Runs a command with its output streamed to the console (long builds show their progress). */
export async function streamed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  await $({ stdio: 'inherit', env: { ...process.env, ...env } })`${cmd} ${args}`;
}
