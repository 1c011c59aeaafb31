// What a run leaves behind for people and CI: a JSON timeline per scenario (every recorded event,
// readable without the full objects), and a JUnit XML file. The console side (phase / note /
// evidence) lives in lib/run/console.ts; the mocha reporter that writes JUnit next to the usual
// output is lib/report/mocha-reporter.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { RecordedEvent } from '../observe/recorder.ts';

export interface TimelineRow {
  at: string;
  /** Milliseconds since the first event of the timeline (monotonic clock). */
  t: number;
  resource: string;
  type: string;
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  source: string;
  /** The few fields a reader looks for, by resource. */
  summary: Record<string, string | boolean | undefined>;
}

function podSummary(pod: V1Pod): TimelineRow['summary'] {
  return {
    phase: pod.status?.phase,
    ready: pod.status?.conditions?.find((c) => c.type === 'Ready')?.status,
    node: pod.spec?.nodeName,
    ip: pod.status?.podIP,
    deleting: pod.metadata?.deletionTimestamp ? String(pod.metadata.deletionTimestamp) : undefined,
  };
}

function nodeSummary(node: V1Node): TimelineRow['summary'] {
  return {
    ready: node.status?.conditions?.find((c) => c.type === 'Ready')?.status,
    taints: (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).join(',') || undefined,
  };
}

function summaryOf(e: RecordedEvent): TimelineRow['summary'] {
  const o = e.object as unknown as Record<string, unknown>;
  switch (e.resource) {
    case 'pods':
      return podSummary(o as V1Pod);
    case 'nodes':
      return nodeSummary(o as V1Node);
    case 'persistentvolumeclaims':
    case 'persistentvolumes': {
      const spec = o.spec as { volumeName?: string; claimRef?: { name?: string } } | undefined;
      const status = o.status as { phase?: string } | undefined;
      return { phase: status?.phase, volume: spec?.volumeName, claim: spec?.claimRef?.name };
    }
    case 'events':
      return {
        reason: o.reason as string | undefined,
        object: `${(o.involvedObject as { kind?: string })?.kind}/${(o.involvedObject as { name?: string })?.name}`,
        message: o.message as string | undefined,
      };
    case 'endpointslices': {
      const endpoints = (o.endpoints ?? []) as Array<{
        addresses?: string[];
        conditions?: { ready?: boolean };
      }>;
      return {
        ready: endpoints
          .filter((x) => x.conditions?.ready)
          .flatMap((x) => x.addresses ?? [])
          .join(','),
      };
    }
    default:
      return {};
  }
}

export function timelineRows(events: RecordedEvent[]): TimelineRow[] {
  const t0 = events[0]?.mono ?? 0;
  return events.map((e) => ({
    at: new Date(e.at).toISOString(),
    t: Math.round(e.mono - t0),
    resource: e.resource,
    type: e.type,
    name: e.name,
    ...(e.namespace ? { namespace: e.namespace } : {}),
    uid: e.uid,
    resourceVersion: e.resourceVersion,
    source: e.source,
    summary: summaryOf(e),
  }));
}

export function writeTimeline(file: string, events: RecordedEvent[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(timelineRows(events), null, 1) + '\n');
}

export interface CaseResult {
  /** The describe path, e.g. "node-stop". */
  suite: string;
  name: string;
  seconds: number;
  state: 'passed' | 'failed' | 'skipped';
  failure?: { message: string; details?: string };
}

export function escapeXml(text: string): string {
  return (
    text
      // Characters XML 1.0 cannot carry at all (ANSI colour codes, NULs) are dropped.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

/** JUnit XML, one <testsuite> per suite, in the shape CI systems read. */
export function junitXml(cases: CaseResult[], name = 'statefulset-lab'): string {
  const suites = new Map<string, CaseResult[]>();
  for (const c of cases) suites.set(c.suite, [...(suites.get(c.suite) ?? []), c]);
  const count = (list: CaseResult[], state: CaseResult['state']) =>
    list.filter((c) => c.state === state).length;
  const time = (list: CaseResult[]) => list.reduce((s, c) => s + c.seconds, 0).toFixed(3);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(name)}" tests="${cases.length}" failures="${count(cases, 'failed')}" skipped="${count(cases, 'skipped')}" time="${time(cases)}">`,
  ];
  for (const [suite, list] of suites) {
    out.push(
      `  <testsuite name="${escapeXml(suite)}" tests="${list.length}" failures="${count(list, 'failed')}" skipped="${count(list, 'skipped')}" time="${time(list)}">`,
    );
    for (const c of list) {
      const open = `    <testcase classname="${escapeXml(suite)}" name="${escapeXml(c.name)}" time="${c.seconds.toFixed(3)}"`;
      if (c.state === 'passed') out.push(`${open}/>`);
      else if (c.state === 'skipped') out.push(`${open}>`, '      <skipped/>', '    </testcase>');
      else
        out.push(
          `${open}>`,
          `      <failure message="${escapeXml(c.failure?.message ?? 'failed')}">${escapeXml(c.failure?.details ?? '')}</failure>`,
          '    </testcase>',
        );
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

export function writeJUnit(file: string, cases: CaseResult[], name?: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, junitXml(cases, name));
}
