import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadProfile, profilePath } from '../../lib/workload/profile.ts';

const manifest = (clusterIP = 'None') => `
kind: Service
apiVersion: v1
metadata: { name: db }
spec: { clusterIP: ${clusterIP}, selector: { app: db } }
---
kind: StatefulSet
apiVersion: apps/v1
metadata: { name: store }
spec:
  serviceName: db
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [{ name: server, image: example/db:1 }] }
  volumeClaimTemplates: [{ metadata: { name: data } }]
`;
const marker = `marker: { in: pod, write: 'echo "$MARKER" > /data/m', read: cat /data/m }`;

/** A profile file and its manifest in a fresh directory. */
function profileFile(body: string, yaml = manifest()): string {
  const dir = mkdtempSync(join(tmpdir(), 'profile-'));
  writeFileSync(join(dir, 'db.yaml'), yaml);
  writeFileSync(join(dir, 'own.yaml'), `manifests: [db.yaml]\n${body}`);
  return join(dir, 'own.yaml');
}

describe('workload profiles', () => {
  it('the seed is the default, and names what the behaviours use', () => {
    const p = loadProfile(profilePath(''));
    expect(p).to.include({ name: 'mysql', statefulSet: 'mysql', service: 'mysql', container: 'mysql' });
    expect(p).to.include({ claimTemplate: 'pvc', process: 'mariadbd|mysqld', probe: 'mysql' });
    expect(p.secondWriter?.test("[ERROR] mariadbd: Can't lock aria control file")).to.equal(true);
  });

  it('postgres: its own manifest and image build, and no second-writer message', () => {
    const p = loadProfile(profilePath('postgres'));
    expect(p).to.include({
      statefulSet: 'postgres',
      service: 'postgres',
      container: 'postgres',
      process: 'postgres',
    });
    expect(p.image?.build).to.match(/scripts\/build\/postgres-image\.sh$/);
    expect(p.secondWriter).to.equal(undefined);
  });

  it("a user's own file: names come from its manifest, paths from the file's folder", () => {
    const p = loadProfile(profileFile(`process: dbd\n${marker}`));
    expect(p).to.include({ name: 'own', statefulSet: 'store', service: 'db', container: 'server' });
    expect(p).to.include({ claimTemplate: 'data', probe: undefined, secondWriter: undefined });
    expect(p.marker.in).to.equal('pod');
  });

  it('refuses, saying what to fix: no headless Service, no marker, a process that is no name', () => {
    expect(() => loadProfile(profileFile(`process: dbd\n${marker}`, manifest('10.0.0.1')))).to.throw(
      /no headless Service db \(clusterIP: None\)/,
    );
    expect(() => loadProfile(profileFile('process: dbd'))).to.throw(/marker.in must be client or pod/);
    expect(() => loadProfile(profileFile(`process: 'dbd; rm -rf /'\n${marker}`))).to.throw(/pgrep pattern/);
    expect(() => profilePath('no-such-profile')).to.throw(
      /name one of profiles\/ or give a profile file's path/,
    );
  });
});
