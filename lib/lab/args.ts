// The lab command line, without any I/O: what to do, in which language, and whether to pause. Every
// mistake becomes a UsageError that says what to type instead.
import { LANGS, type Lang } from './text.ts';

export type LabCommand =
  | { command: 'help'; lang: Lang }
  | { command: 'list'; lang: Lang }
  | { command: 'docs'; lang: Lang; check: boolean }
  | { command: 'run'; lang: Lang; lab: string; pause: boolean; view: boolean };

export class UsageError extends Error {
  override name = 'UsageError';
}

type Env = Record<string, string | undefined>;

/** The locale's language: LC_ALL, then LC_MESSAGES, then LANG (POSIX order); Korean or English. */
export function langFromEnv(env: Env): Lang {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return /^ko([_.@-]|$)/i.test(locale) ? 'ko' : 'en';
}

function asLang(value: string | undefined): Lang {
  if (value && (LANGS as readonly string[]).includes(value)) return value as Lang;
  throw new UsageError(
    `--lang ${value ?? '(nothing)'}: choose one of ${LANGS.join(', ')}, e.g. \`npm run lab -- naming --lang ko\`.`,
  );
}

/** Parses the arguments after `npm run lab --`; `labs` are the known lab names, in order. */
export function parseLabArgs(
  argv: readonly string[],
  labs: readonly string[],
  env: Env = process.env,
): LabCommand {
  let lang: Lang | undefined;
  let pause = true;
  let view = false;
  let help = false;
  let check = false;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--no-pause') pause = false;
    else if (arg === '--view') view = true;
    else if (arg === '--check') check = true;
    else if (arg === '--lang') lang = asLang(argv[++i]);
    else if (arg.startsWith('--lang=')) lang = asLang(arg.slice('--lang='.length));
    else if (arg.startsWith('-'))
      throw new UsageError(
        `unknown option ${arg}. Options: --lang en|ko, --no-pause, --view, --help. See \`npm run lab -- --help\`.`,
      );
    else words.push(arg);
  }
  lang ??= langFromEnv(env);
  if (help) return { command: 'help', lang };
  if (words.length > 1)
    throw new UsageError(
      `one lab at a time: got ${words.join(', ')}. Example: \`npm run lab -- ${labs[0]}\`.`,
    );
  const [word] = words;
  if (word === undefined || word === 'list') return { command: 'list', lang };
  if (word === 'docs') return { command: 'docs', lang, check };
  if (word !== 'all' && !labs.includes(word)) {
    const near = labs.filter((l) => distance(l, word) <= 2 || l.startsWith(word) || word.startsWith(l));
    throw new UsageError(
      `no lab named "${word}"${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}. Labs: ${labs.join(', ')} (or all). \`npm run lab\` lists them.`,
    );
  }
  return { command: 'run', lang, lab: word, pause, view };
}

/** Edit distance (insert, delete, substitute), for "did you mean" on a mistyped lab name. */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}
