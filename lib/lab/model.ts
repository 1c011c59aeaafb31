// What a lab is, in code: steps that act on the cluster and return what they saw, and checks that
// judge what was seen against the seed's prediction. The words live in labs/<lab>/text.yaml.
import type { ScenarioContext } from '../run/context.ts';
import type { Bounds } from '../cluster/settings.ts';
import type { Row } from './table.ts';
import type { Lang } from './text.ts';

/** The scenario context (client, namespace, recorder, faults, live settings) plus the lab's extras. */
export interface LabContext extends ScenarioContext {
  lang: Lang;
  bounds: Bounds;
  /** Prints one of the current step's notes (text.yaml `notes.<key>`), filled with vars. */
  say(key: string, vars?: Record<string, string | number>): void;
}

export interface Observation {
  /** Tables of what the cluster did: pods, nodes, PVCs with UIDs, IPs, ordinals. */
  tables: Array<{ title: string; rows: Row[] }>;
  /** Values for the {placeholders} of the step's held/missed sentences. */
  vars?: Record<string, string | number>;
  /** Keys of the step's notes to print after the verdict (e.g. whether the IP changed). */
  notes?: string[];
}

export interface Verdict {
  held: boolean;
  vars?: Record<string, string | number>;
}

export interface LabStep<O extends Observation = Observation> {
  id: string;
  action(ctx: LabContext): Promise<O>;
  check(observation: O): Verdict;
}

export interface LabDefinition {
  name: string;
  /** Fresh steps for one run: they may share state through the closure. */
  steps(): LabStep[];
}

/** Ties a step's action and check together with one observation type. */
export function step<O extends Observation>(s: LabStep<O>): LabStep {
  return s as unknown as LabStep;
}
