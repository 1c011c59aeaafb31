// What a behaviour is, in code: the steps that show it on the cluster. Each step acts and returns
// what it observed; its judgement passes, or throws with the evidence. The scenario runner (mocha)
// and the lab runner call the same two functions, so a lab can be neither stricter nor looser than
// CI. A lab's words live in labs/<name>/text.yaml; a step with no words there is one the lab hides
// (it runs in the suite only), never one the lab judges differently.
import type { EvidenceRow } from '../report/data.ts';
import type { RunContext } from '../run/run.ts';

export type Table = { title: string; rows: EvidenceRow[] };

export interface Observation {
  tables?: Table[]; // what the cluster did: the scenario prints them as evidence, the lab as tables
  vars?: Record<string, string | number>; // the {placeholders} of the lab's held/missed sentences
  notes?: string[]; // keys of the lab step's notes (text.yaml `notes.<key>`), printed after the verdict
}

export interface Step<O extends Observation = Observation> {
  id: string; // the id of its words in labs/<name>/text.yaml, when the lab shows it
  title: string; // the scenario's test title (the lab's titles come from text.yaml)
  /** Acts on the cluster and returns what it saw. Throwing means the step could not be carried out. */
  act(ctx: RunContext): Promise<O>;
  /** Judges what was seen: returns when the behaviour held, throws an assertion with the evidence. */
  judge(seen: O, ctx: RunContext): void;
}

export interface Behaviour {
  name: string; // scenario name, lab name, artifacts directory and namespace prefix
  title: string; // what it proves, in one line: the describe title after "<name>: "
  steps(): Step[]; // fresh steps for one run: they may share state through the closure
  /** What a run creates and injects, said before it is run (`--plan`); a run that injects a fault
   * its plan does not name fails. */
  plan: { creates: string[]; faults: string[] };
  /** Set when the workload profile cannot give what it needs (e.g. a second writer's lock message):
   * the runners then report it not applicable, with this reason, and run none of its steps. */
  notApplicable?: string;
}

/** Ties a step's act and judge together with one observation type. */
export const step = <O extends Observation>(s: Step<O>): Step => s as unknown as Step;

/** Runs one judgement for a runner: undefined when it held, else the assertion's message. */
export function verdictOf(s: Step, seen: Observation, ctx: RunContext): string | undefined {
  try {
    s.judge(seen, ctx);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Said of every step after one whose action threw: the cluster is not where the step starts from. */
export const notReached = (brokenStep: string) =>
  `not reached: step "${brokenStep}" could not be carried out, so the cluster is not in the state this step starts from`;
