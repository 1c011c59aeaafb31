// A lab's words, kept apart from its code: one labs/<lab>/text.yaml per lab, English and Korean side
// by side, so a translator edits one file and a test can prove no step lacks a language.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const LANGS = ['en', 'ko'] as const;
export type Lang = (typeof LANGS)[number];
export type Localized = Record<Lang, string>;

export interface StepText {
  id: string;
  title: Localized;
  /** What the step does to the cluster. */
  what: Localized;
  /** What the seed (study notes) says will happen. */
  prediction: Localized;
  /** What to look at in the table the step prints. */
  watch: Localized;
  /** Shown with ✔ / ✘ after the check; may hold {placeholders} the step fills in. */
  held: Localized;
  missed: Localized;
  /** Where Kubernetes does something the seed does not say (optional). */
  differs?: Localized;
  /** Extra sentences a step may pick by key at run time (e.g. "the IP changed" vs "the IP was reused"). */
  notes?: Record<string, Localized>;
  /** The equivalent kubectl commands; {ns} is the lab's namespace. Not translated. */
  kubectl: string[];
}

export interface QuestionText {
  q: Localized;
  a: Localized;
}

export interface LabText {
  name: string;
  title: Localized;
  goal: Localized;
  /** Section of the seed the lab is about, e.g. "§2 (c)". */
  seed: string;
  /** Rough wall-clock minutes on a 2-core laptop, for the facilitator's plan. */
  minutes: number;
  steps: StepText[];
  questions: QuestionText[];
}

const STEP_TEXT = ['title', 'what', 'prediction', 'watch', 'held', 'missed'] as const;
const STEP_OPTIONAL = ['differs'] as const;
const PLACEHOLDER = /\{(\w+)\}/g;

/** The {placeholders} of a sentence, sorted, so both languages can be compared. */
export function placeholders(s: string): string[] {
  return [...new Set([...s.matchAll(PLACEHOLDER)].map((m) => m[1]!))].sort();
}

/** Fills {name} from vars; an unknown placeholder stays visible rather than vanishing. */
export function fill(s: string, vars: Record<string, string | number> = {}): string {
  return s.replace(PLACEHOLDER, (whole, k: string) => (k in vars ? String(vars[k]) : whole));
}

function checkLocalized(value: unknown, where: string, problems: string[]): void {
  if (!value || typeof value !== 'object') {
    problems.push(`${where}: missing (needs ${LANGS.join(' and ')})`);
    return;
  }
  const v = value as Record<string, unknown>;
  for (const lang of LANGS) {
    if (typeof v[lang] !== 'string' || !(v[lang] as string).trim())
      problems.push(`${where}.${lang}: missing`);
  }
  for (const k of Object.keys(v))
    if (!(LANGS as readonly string[]).includes(k)) problems.push(`${where}: unknown language ${k}`);
  if (typeof v.en === 'string' && typeof v.ko === 'string') {
    const en = placeholders(v.en).join(',');
    const ko = placeholders(v.ko).join(',');
    if (en !== ko) problems.push(`${where}: placeholders differ (en {${en}}, ko {${ko}})`);
  }
}

/** Every problem of a parsed text file, in words; empty when the file is complete. */
export function validateLabText(raw: unknown, name: string): string[] {
  const problems: string[] = [];
  const t = (raw ?? {}) as Record<string, unknown>;
  if (t.name !== name) problems.push(`name: expected ${name}, found ${String(t.name)}`);
  checkLocalized(t.title, 'title', problems);
  checkLocalized(t.goal, 'goal', problems);
  if (typeof t.seed !== 'string' || !t.seed)
    problems.push('seed: missing (the section of the seed, e.g. "§2 (c)")');
  if (typeof t.minutes !== 'number' || t.minutes <= 0) problems.push('minutes: missing (a positive number)');
  const steps = Array.isArray(t.steps) ? (t.steps as Array<Record<string, unknown>>) : [];
  if (!steps.length) problems.push('steps: none');
  const ids = new Set<string>();
  steps.forEach((s, i) => {
    const where = `steps[${i}]${typeof s.id === 'string' ? ` (${s.id})` : ''}`;
    if (typeof s.id !== 'string' || !s.id) problems.push(`${where}.id: missing`);
    else if (ids.has(s.id)) problems.push(`${where}.id: repeated`);
    else ids.add(s.id);
    for (const key of STEP_TEXT) checkLocalized(s[key], `${where}.${key}`, problems);
    for (const key of STEP_OPTIONAL)
      if (s[key] !== undefined) checkLocalized(s[key], `${where}.${key}`, problems);
    if (s.notes !== undefined) {
      for (const [k, v] of Object.entries(s.notes as Record<string, unknown>))
        checkLocalized(v, `${where}.notes.${k}`, problems);
    }
    if (!Array.isArray(s.kubectl) || !s.kubectl.length || s.kubectl.some((c) => typeof c !== 'string'))
      problems.push(`${where}.kubectl: missing (a list of commands)`);
    const known = new Set<string>(['id', 'kubectl', 'notes', ...STEP_TEXT, ...STEP_OPTIONAL]);
    for (const k of Object.keys(s)) if (!known.has(k)) problems.push(`${where}: unknown key ${k}`);
  });
  const questions = Array.isArray(t.questions) ? (t.questions as Array<Record<string, unknown>>) : [];
  if (!questions.length) problems.push('questions: none (each lab ends with a question or two)');
  questions.forEach((q, i) => {
    checkLocalized(q.q, `questions[${i}].q`, problems);
    checkLocalized(q.a, `questions[${i}].a`, problems);
  });
  return problems;
}

export class LabTextError extends Error {
  override name = 'LabTextError';
}

/** Reads and checks one lab's text file; refuses an incomplete one with every problem listed. */
export function loadLabText(path: string, name: string): LabText {
  const raw: unknown = parse(readFileSync(path, 'utf8'));
  const problems = validateLabText(raw, name);
  if (problems.length) throw new LabTextError(`${path} is incomplete:\n  ${problems.join('\n  ')}`);
  return raw as LabText;
}

/** The runner's own words (labs/ui.yaml): every key in every language. */
export type UiText = Record<string, Localized>;

export function validateUiText(raw: unknown): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries((raw ?? {}) as Record<string, unknown>))
    checkLocalized(value, key, problems);
  return problems;
}

export function loadUiText(path: string): UiText {
  const raw: unknown = parse(readFileSync(path, 'utf8'));
  const problems = validateUiText(raw);
  if (problems.length) throw new LabTextError(`${path} is incomplete:\n  ${problems.join('\n  ')}`);
  return raw as UiText;
}
