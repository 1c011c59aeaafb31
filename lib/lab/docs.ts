// The attendee page of a lab, docs/labs/<lab>.md, written from the same text file the lab prints, so
// page and terminal never disagree. English first, then Korean; questions, then their answers.
import { fill, LANGS, type Lang, type LabText, type UiText } from './text.ts';

const HEADING: Record<Lang, string> = { en: 'English', ko: '한국어' };

function section(text: LabText, ui: UiText, lang: Lang): string[] {
  const u = (k: string, vars?: Record<string, string | number>) => fill(ui[k]![lang], vars);
  const out = [
    `## ${HEADING[lang]}`,
    '',
    `**${u('goal')}.** ${text.goal[lang]}`,
    '',
    `**${u('docSeed')}:** ${text.seed} · **${u('docTime')}:** ${u('minutes', { minutes: text.minutes })} · **${u('docRun')}:** \`npm run lab -- ${text.name}${lang === 'ko' ? ' --lang ko' : ''}\``,
    '',
    `### ${u('docSteps')}`,
    '',
  ];
  text.steps.forEach((s, i) => {
    out.push(`#### ${i + 1}. ${s.title[lang]}`, '');
    out.push(`- **${u('whatHappens')}:** ${s.what[lang]}`);
    out.push(`- **${u('seedPredicts')}:** ${s.prediction[lang]}`);
    out.push(`- **${u('watch')}:** ${s.watch[lang]}`);
    if (s.differs) out.push(`- **${u('differs')}:** ${s.differs[lang]}`);
    out.push('', '```sh', ...s.kubectl.map((c) => fill(c, { ns: '$NS' })), '```', '');
  });
  out.push(u('docNs'), '', `### ${u('questions')}`, '');
  text.questions.forEach((q, i) => out.push(`${i + 1}. ${q.q[lang]}`));
  out.push('', `### ${u('docAnswers')}`, '');
  text.questions.forEach((q, i) => out.push(`${i + 1}. ${q.a[lang]}`));
  out.push('');
  return out;
}

export function renderLabPage(text: LabText, ui: UiText): string {
  return [
    `# ${text.name}: ${text.title.en} / ${text.title.ko}`,
    '',
    `<!-- ${fill(ui.docGenerated!.en, { name: text.name })} -->`,
    '',
    LANGS.map((l) => `[${HEADING[l]}](#${HEADING[l].toLowerCase()})`).join(' · '),
    '',
    ...LANGS.flatMap((l) => section(text, ui, l)),
  ].join('\n');
}

/** docs/labs/README.md: the labs in workshop order with a line each, and where the facilitator reads. */
export function renderLabIndex(texts: LabText[]): string {
  const out = [
    '# Workshop labs / 워크숍 실습',
    '',
    '<!-- Generated from labs/catalog.ts and each labs/<lab>/text.yaml by `npm run lab -- docs`. -->',
    '',
    'Run one with `npm run lab -- <lab>` (Korean: `--lang ko`, or a `ko_*` locale). The lab pauses',
    'before every step; `--no-pause` runs straight through. Facilitators: [facilitator.md](facilitator.md).',
    '',
    '`npm run lab -- <실습>`으로 실행합니다 (한국어: `--lang ko` 또는 `ko_*` 로케일). 단계마다 멈추며,',
    '`--no-pause`를 주면 끝까지 실행합니다. 진행자용 안내: [facilitator.md](facilitator.md).',
    '',
    '| lab | seed | time | English | 한국어 |',
    '|---|---|---|---|---|',
    ...texts.map(
      (t) => `| [${t.name}](${t.name}.md) | ${t.seed} | ~${t.minutes} min | ${t.title.en} | ${t.title.ko} |`,
    ),
    '',
  ];
  return out.join('\n');
}
