// The layering docs/architecture.md draws, checked on the source: imports point down only, and the
// tools of one node-fault provider are named in that provider alone, never in a behaviour.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';
import { kindNodes } from '../../lib/cluster/kind-nodes.ts';

const sources = (dir: string): string[] =>
  readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)));

/** Each `from '…'` of a file that reaches one of `dirs` at the top of the repo. */
function importsInto(file: string, dirs: string[]): string[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const targets = [...text.matchAll(/from '(\.[^']+)'/g)].map((m) => join(file, '..', m[1]!));
  return targets.filter((t) => dirs.some((d) => t.startsWith(`${d}/`))).map((t) => `${file} → ${t}`);
}

/** Lines of behaviour code that spell out a provider's tools (docker, kind, the lab's node names). */
function providerWords(file: string): string[] {
  const lines = readFileSync(join(REPO_ROOT, file), 'utf8').split('\n');
  const named = /\bdocker\b|\bkind (create|load|get)\b|statefulset-lab-(worker|control)|LAB_NETWORK/;
  return lines.flatMap((l, i) => (named.test(l) ? [`${file}:${i + 1}`] : []));
}

describe('layers: who may import whom, and where provider knowledge lives', () => {
  it('nothing in lib/ imports behaviours/, labs/, scenarios/ or scripts/', () => {
    const upward = sources('lib').flatMap((f) =>
      importsInto(f, ['behaviours', 'labs', 'scenarios', 'scripts']),
    );
    expect(upward).to.deep.equal([]);
  });

  it('nothing in behaviours/ imports scripts/ or scenarios/', () => {
    const upward = sources('behaviours').flatMap((f) => importsInto(f, ['scripts', 'scenarios']));
    expect(upward).to.deep.equal([]);
  });

  it("no behaviour spells out a node-fault provider's tools: each provider says its own commands", () => {
    expect(sources('behaviours').flatMap(providerWords)).to.deep.equal([]);
    expect(kindNodes.command('cut', 'w3')).to.match(/^docker network disconnect \S+ w3$/);
  });

  it('the checks catch what they look for (negative case)', () => {
    // This file imports lib/ from test/: asked about lib/, it must be found.
    expect(importsInto('test/unit/layers.test.ts', ['lib'])).to.have.length.above(0);
    expect(providerWords('lib/cluster/kind-nodes.ts')).to.have.length.above(0);
  });
});
