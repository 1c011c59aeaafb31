import { expect } from 'chai';
import { escapeXml, junitXml, timelineRows } from '../../lib/report/results.ts';
import type { RecordedEvent } from '../../lib/observe/recorder.ts';

describe('results: JUnit XML and the JSON timeline', () => {
  it('writes suites with counts, failures with escaped messages, skips', () => {
    const xml = junitXml([
      { suite: 'pod-loss', name: 'same name, new UID', seconds: 1.5, state: 'passed' },
      {
        suite: 'pod-loss',
        name: 'a <b> & "c"',
        seconds: 2,
        state: 'failed',
        failure: { message: 'expected uid=a <> uid=b', details: 'stack\u001b[31m' },
      },
      { suite: 'node-stop', name: 'later', seconds: 0, state: 'skipped' },
    ]);
    expect(xml).to.match(/^<\?xml version="1.0"/);
    expect(xml).to.include(
      '<testsuites name="statefulset-lab" tests="3" failures="1" skipped="1" time="3.500">',
    );
    expect(xml).to.include('<testsuite name="pod-loss" tests="2" failures="1" skipped="0" time="3.500">');
    expect(xml).to.include('name="a &lt;b&gt; &amp; &quot;c&quot;"');
    expect(xml).to.include('<failure message="expected uid=a &lt;&gt; uid=b">stack[31m</failure>');
    expect(xml).to.include('<skipped/>');
    expect(xml).to.not.include('\u001b');
  });

  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).to.equal(
      '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;',
    );
  });

  it('summarises each event for a reader, relative to the first', () => {
    const base = { uid: 'u', resourceVersion: '1', source: 'watch' as const, relisted: false };
    const events: RecordedEvent[] = [
      {
        ...base,
        resource: 'pods',
        type: 'ADDED',
        at: 1000,
        mono: 50,
        name: 'mysql-0',
        namespace: 'ns',
        object: {
          metadata: { name: 'mysql-0' },
          spec: { nodeName: 'w1' },
          status: { phase: 'Running', podIP: '10.244.1.5', conditions: [{ type: 'Ready', status: 'True' }] },
        } as never,
      },
      {
        ...base,
        resource: 'nodes',
        type: 'MODIFIED',
        at: 3000,
        mono: 2050,
        name: 'w1',
        object: {
          metadata: { name: 'w1' },
          spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] },
          status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
        } as never,
      },
    ];
    const rows = timelineRows(events);
    expect(rows[0]).to.deep.include({ t: 0, at: new Date(1000).toISOString(), namespace: 'ns' });
    expect(rows[0]!.summary).to.deep.include({
      phase: 'Running',
      ready: 'True',
      node: 'w1',
      ip: '10.244.1.5',
    });
    expect(rows[1]).to.deep.include({ t: 2000 });
    expect(rows[1]!.summary).to.deep.equal({
      ready: 'Unknown',
      taints: 'node.kubernetes.io/unreachable:NoExecute',
    });
    expect(JSON.stringify(rows)).to.not.include('"object"');
  });
});
