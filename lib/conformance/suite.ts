// Upstream's StatefulSet conformance specs (k8s.io/kubernetes test/e2e/apps/statefulset.go, the
// [Conformance] ones of "[sig-apps] StatefulSet Basic StatefulSet functionality") as the lab runs
// them: which specs, the e2e binary's flags, and what its JUnit report says per spec.
// scripts/conformance.ts is the command line; the binary and images come from scripts/build/e2e*.sh.

/** Selects exactly the eight StatefulSet [Conformance] specs (ginkgo's --focus is a regex). */
export const FOCUS = String.raw`\[sig-apps\] StatefulSet .*\[Conformance\]`;
export const EXPECTED_SPECS = 8;

export interface E2eOptions {
  kubeconfig: string;
  context: string;
  /** The cluster's own kubectl: the specs shell out to it (exec into pods). */
  kubectl: string;
  /** Upstream writes junit_01.xml here. */
  reportDir: string;
  /** ginkgo's dry run: list the focused specs, touch nothing. */
  dryRun?: boolean;
}

/**
 * The e2e binary's command line. Deliberately absent: --clean-start (it deletes every namespace
 * that is not a system one, the other runs' included). The suite deletes its own namespaces.
 */
export function e2eArgs(o: E2eOptions): string[] {
  return [
    '--provider=skeleton',
    `--kubeconfig=${o.kubeconfig}`,
    `--context=${o.context}`,
    `--kubectl-path=${o.kubectl}`,
    `--report-dir=${o.reportDir}`,
    // The log dump after the suite shells out to a script of the kubernetes repository over ssh.
    '--disable-log-dump=true',
    `--ginkgo.focus=${FOCUS}`,
    '--ginkgo.no-color',
    // Not one "S" per spec the focus leaves out (6,700 of them).
    '--ginkgo.silence-skips',
    '--ginkgo.timeout=45m',
    ...(o.dryRun ? ['--ginkgo.dry-run', '--ginkgo.v'] : []),
  ];
}

export type SpecStatus = 'passed' | 'failed' | 'skipped' | 'pending' | 'other';

export interface SpecResult {
  name: string;
  status: SpecStatus;
  seconds: number;
  /** The first line of the failure, if it failed. */
  failure?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e.startsWith('#x') || e.startsWith('#X')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return ENTITIES[e] ?? whole;
  });
}

function attribute(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m?.[1] === undefined ? undefined : unescapeXml(m[1]);
}

/**
 * The specs of upstream's JUnit report (ginkgo v2: one <testcase> per spec, named "[It] <full
 * text>", with status and time attributes and a <failure>/<error> child whose text says why).
 * Specs the focus skipped are left out; suite-level nodes ([SynchronizedBeforeSuite], …) only
 * when they failed, since then no spec could run.
 */
export function parseJUnit(xml: string): SpecResult[] {
  const results: SpecResult[] = [];
  for (const [, attrs = '', , body = ''] of xml.matchAll(
    /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g,
  )) {
    const name = attribute(attrs, 'name') ?? '';
    const declared = attribute(attrs, 'status') ?? '';
    const failed = /<(failure|error)\b/.exec(body);
    const status: SpecStatus = failed
      ? 'failed'
      : declared === 'passed' || declared === 'skipped' || declared === 'pending'
        ? declared
        : 'other';
    const isSpec = name.startsWith('[It] ');
    if (status === 'skipped' || status === 'pending' || (!isSpec && status !== 'failed')) continue;
    const failure = failed ? failureText(body) : undefined;
    results.push({
      name: name.replace(/^\[It\] /, ''),
      status,
      seconds: Number(attribute(attrs, 'time') ?? 'NaN'),
      ...(failure !== undefined ? { failure } : {}),
    });
  }
  return results;
}

/** Why a spec failed: the failure's message, or (upstream leaves that empty) its text's first line. */
function failureText(body: string): string {
  const m = /<(?:failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/(?:failure|error)>)/.exec(body);
  const message = attribute(m?.[1] ?? '', 'message');
  if (message) return message.split('\n')[0]!;
  const text = unescapeXml(m?.[2] ?? '').replace(/^<!\[CDATA\[|\]\]>$/g, '');
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? 'failed (no text in the report)'
  );
}

/** The lines the command prints: one per spec with its time, then the count. */
export function summaryLines(results: SpecResult[]): string[] {
  const short = (name: string) =>
    name.replace(/^\[sig-apps\] StatefulSet Basic StatefulSet functionality \[StatefulSetBasic\] /, '');
  const lines = results.map(
    (r) =>
      `${r.status === 'passed' ? '✔ passed' : '✘ ' + r.status}  ${r.seconds.toFixed(1).padStart(6)}s  ${short(r.name)}` +
      (r.failure ? `\n      ${r.failure}` : ''),
  );
  const passed = results.filter((r) => r.status === 'passed').length;
  lines.push(`${passed}/${results.length} passed`);
  return lines;
}

/** Major.minor of a Kubernetes version string (v1.33.1 → 1.33). */
export function minorOf(version: string): string | undefined {
  return /^v?(\d+\.\d+)/.exec(version.trim())?.[1];
}
