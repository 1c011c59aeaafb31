// The cluster bundle's pure parts, on small bundles made here: what this checkout expects of one,
// the tar it is, each refusal with its message, and loading into a scratch cache with Docker
// replaced by spies.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createZstdCompress } from 'node:zlib';
import {
  BUNDLE_FORMAT,
  BundleRefused,
  checkoutFacts,
  incompatibility,
  loadBundle,
  nodeKeyPaths,
  payloadTar,
  resolveBundle,
  verifyBundle,
  verifyForCheckout,
  writeBundleFile,
  type BundleManifest,
  type Checkout,
  type Member,
} from '../../lib/cluster/bundle.ts';
import { ByteReader, parseTarHeader, tarHeader, tarMembers } from '../../lib/cluster/tar.ts';
import { REPO_ROOT } from '../../lib/cluster/paths.ts';

const here = checkoutFacts();

async function refusal(work: Promise<unknown>): Promise<string> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'refused').to.be.instanceOf(BundleRefused);
  return (err as Error).message;
}

describe('cluster bundle: what this checkout expects', () => {
  it("reads the node image's key files from images.sh, versions.env first, as stage_key hashes them", () => {
    const paths = nodeKeyPaths(readFileSync(join(REPO_ROOT, 'scripts/build/images.sh'), 'utf8'));
    expect(paths[0]).to.equal('scripts/versions.env');
    expect(paths).to.include.members([
      'scripts/build/images.sh',
      'scripts/build/common.sh',
      'manifests/flannel.yaml',
    ]);
    for (const p of paths) expect(existsSync(join(REPO_ROOT, p)), p).to.equal(true);
    expect(here.nodeImage).to.match(
      new RegExp(`^statefulset-lab/node:${here.versions.K8S_VERSION}-[0-9a-f]{12}$`),
    );
  });

  it('says so when images.sh keys the node image in a way it cannot follow', () => {
    expect(() => nodeKeyPaths('echo nothing')).to.throw(/no NODE_KEY/);
    expect(() => nodeKeyPaths('NODE_KEY=$(stage_key "$SELF" "$HOME/x")')).to.throw(/\$HOME\/x/);
  });

  const manifestFor = (c: Checkout) => ({ ...c, commit: 'abc1234' }) as unknown as BundleManifest;

  it('accepts a bundle of the same pins and node image', () => {
    expect(incompatibility(manifestFor(here), here)).to.equal(undefined);
  });

  it('names each pin that differs, with both values, and what to do', () => {
    const other = manifestFor({
      ...here,
      versions: { ...here.versions, K8S_VERSION: 'v1.32.0', EXTRA: '1' },
    });
    const why = incompatibility(other, here)!;
    expect(why).to.include(`K8S_VERSION v1.32.0 in the bundle, ${here.versions.K8S_VERSION} here`);
    expect(why).to.include('EXTRA 1 in the bundle, (none) here');
    expect(why).to.include('npm run cluster:bundle').and.include('abc1234');
  });

  it('names the build scripts that differ when only the node image key does', () => {
    const other = manifestFor({
      ...here,
      nodeImage: 'statefulset-lab/node:v1.33.1-000000000000',
      nodeKeyFiles: { ...here.nodeKeyFiles, 'scripts/build/rootfs.sh': 'f'.repeat(64) },
    });
    const why = incompatibility(other, here)!;
    expect(why).to.match(
      /node image statefulset-lab\/node:v1.33.1-000000000000 was built by other build scripts/,
    );
    expect(why).to.include('(scripts/build/rootfs.sh differ)').and.include(here.nodeImage);
  });
});

describe('cluster bundle: tar', () => {
  it('writes ustar headers that tar reads and this reader checks', () => {
    const h = tarHeader('payload.tar.zst', 123456789);
    expect(parseTarHeader(h)).to.deep.equal({ name: 'payload.tar.zst', size: 123456789 });
    const flipped = Buffer.from(h);
    flipped[3] = flipped[3]! ^ 1;
    expect(() => parseTarHeader(flipped)).to.throw(/not a tar header/);
    expect(parseTarHeader(Buffer.alloc(512))).to.equal(undefined);
  });

  it('reads members in order across chunk boundaries, skipping what a reader leaves', async () => {
    const a = Buffer.from('x'.repeat(700));
    const b = Buffer.from('second');
    const whole = Buffer.concat([
      tarHeader('a', a.length),
      a,
      Buffer.alloc(1024 - 700),
      tarHeader('b', b.length),
      b,
      Buffer.alloc(512 - b.length),
      Buffer.alloc(1024),
    ]);
    const chunks = Array.from({ length: Math.ceil(whole.length / 97) }, (_, i) =>
      whole.subarray(i * 97, i * 97 + 97),
    );
    const seen: string[] = [];
    for await (const m of tarMembers(new ByteReader(Readable.from(chunks)))) {
      if (m.name === 'a') {
        seen.push('a');
        continue; // left unread
      }
      let text = '';
      for await (const c of m.data) text += c.toString();
      seen.push(text);
    }
    expect(seen).to.deep.equal(['a', 'second']);
  });
});

describe('cluster bundle: verify, refuse, load (a small bundle, Docker replaced by spies)', () => {
  let dir: string;
  let good: string;
  let manifest: BundleManifest;
  const images = 'IMAGES-'.repeat(5000);

  async function makeSmall(to: string, edit: (m: BundleManifest) => BundleManifest = (m) => m) {
    const src = mkdtempSync(join(dir, 'src-'));
    const files: [string, string][] = [];
    for (const [name, text] of [
      ['kind', '#!/bin/sh\necho kind\n'],
      ['kubectl', '#!/bin/sh\necho kubectl\n'],
      ['rootfs-postgres.tar', 'a root filesystem'],
      ['images.tar', images],
    ] as const) {
      writeFileSync(join(src, name), text);
      files.push([name, join(src, name)]);
    }
    const members: Member[] = [];
    const payload = join(src, 'payload.tar.zst');
    await pipeline(
      Readable.from(payloadTar(files, members)),
      createZstdCompress({
        params: { [zlib.ZSTD_c_windowLog]: 31, [zlib.ZSTD_c_enableLongDistanceMatching]: 1 },
      }),
      createWriteStream(payload),
    );
    const m: BundleManifest = edit({
      format: BUNDLE_FORMAT,
      createdAt: new Date().toISOString(),
      commit: 'abc1234',
      versions: here.versions,
      nodeImage: here.nodeImage,
      nodeKeyFiles: here.nodeKeyFiles,
      images: [{ tag: here.nodeImage, id: 'sha256:feed' }],
      members,
      payload: {
        size: statSync(payload).size,
        sha256: createHash('sha256').update(readFileSync(payload)).digest('hex'),
        compression: 'zstd',
      },
      stamps: { 'rootfs-postgres': 'c0ffee' },
    });
    await writeBundleFile(to, m, readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8'), payload);
    return m;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-bundle-'));
    good = join(dir, 'good.bundle');
    manifest = await makeSmall(good);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy of the good bundle with `change` applied to its bytes. */
  function copy(name: string, change: (bytes: Buffer) => Buffer): string {
    const path = join(dir, name);
    writeFileSync(path, change(readFileSync(good)));
    return path;
  }
  const payloadAt = (bytes: Buffer) => bytes.indexOf(Buffer.from('payload.tar.zst')) + 512 + 40;

  it('verifies a good one and finds its manifest', async () => {
    const v = await verifyForCheckout(good, here);
    expect(v.manifest).to.deep.equal(manifest);
    expect(v.payload.size).to.equal(manifest.payload.size);
  });

  it('refuses a flipped byte in the payload, in the manifest, and in the final sum', async () => {
    const flip = (at: (b: Buffer) => number) => (b: Buffer) => {
      const i = at(b);
      b[i] = b[i]! ^ 0x20;
      return b;
    };
    const inPayload = copy('payload.bundle', flip(payloadAt));
    expect(await refusal(verifyBundle(inPayload))).to.match(
      /payload\.tar\.zst does not match the checksum in its manifest\. The file is damaged or incomplete: copy it again/,
    );
    // A changed letter of a pin still parses: the sum catches it before the pins are compared.
    const inManifest = copy(
      'manifest.bundle',
      flip((b) => b.indexOf(Buffer.from('"commit": "abc1234"')) + 12),
    );
    expect(await refusal(verifyForCheckout(inManifest, here))).to.match(
      /its SHA256 says [0-9a-f]{64}, its content sums/,
    );
    const broken = copy(
      'json.bundle',
      flip(() => 512),
    ); // the manifest's opening brace
    expect(await refusal(verifyBundle(broken))).to.match(/JSON.*The file is damaged or incomplete/);
    const inSum = copy(
      'sum.bundle',
      flip((b) => b.indexOf(Buffer.from('SHA256')) + 512 + 3),
    );
    expect(await refusal(verifyBundle(inSum))).to.match(/its SHA256 says/);
  });

  it('refuses a truncated copy at once, saying how much of it is there', async () => {
    const cut = copy('cut.bundle', (b) => b);
    truncateSync(cut, payloadAt(readFileSync(good)) + 10);
    expect(await refusal(verifyBundle(cut))).to.match(/it is truncated: \d+ bytes of \d+ \(\d+\.\d%\)/);
    const stub = copy('stub.bundle', (b) => b.subarray(0, 700));
    expect(await refusal(verifyBundle(stub))).to.match(/it is truncated: the stream ends at byte 700/);
  });

  it('refuses what is not a bundle, and a bundle of another format', async () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello\n'.repeat(200));
    expect(await refusal(verifyBundle(text))).to.match(
      /notes\.txt: not a statefulset-lab cluster bundle \(not a tar header\)/,
    );
    expect(await refusal(verifyBundle(join(dir, 'absent.bundle')))).to.match(/absent\.bundle: no such file/);
    const newer = join(dir, 'newer.bundle');
    await makeSmall(newer, (m) => ({ ...m, format: 'statefulset-lab-bundle/9' }));
    expect(await refusal(verifyBundle(newer))).to.match(/its format is statefulset-lab-bundle\/9/);
  });

  it('refuses a sound bundle of other pins, naming them', async () => {
    const older = join(dir, 'older.bundle');
    await makeSmall(older, (m) => ({ ...m, versions: { ...m.versions, KIND_VERSION: 'v0.28.0' } }));
    await verifyBundle(older);
    expect(await refusal(verifyForCheckout(older, here))).to.include(
      `KIND_VERSION v0.28.0 in the bundle, ${here.versions.KIND_VERSION} here`,
    );
  });

  it('in a folder, takes the bundle named for this checkout, else the newest; a relative path from where npm started', () => {
    const folder = mkdtempSync(join(dir, 'share-'));
    expect(() => resolveBundle(folder, here)).to.throw(/holds no \*\.bundle file/);
    writeFileSync(join(folder, 'statefulset-lab-node-v0-old.bundle'), '');
    expect(resolveBundle(folder, here)).to.equal(join(folder, 'statefulset-lab-node-v0-old.bundle'));
    const ours = `statefulset-lab-${here.nodeImage.replace(/^.*\/node:/, 'node-')}.bundle`;
    writeFileSync(join(folder, ours), '');
    writeFileSync(join(folder, 'statefulset-lab-node-v9-newer.bundle'), '');
    expect(resolveBundle(folder, here)).to.equal(join(folder, ours));
    expect(resolveBundle(good, here)).to.equal(good);
    // npm runs scripts in the package root: a relative path is taken from where npm was started.
    const started = process.env.INIT_CWD;
    process.env.INIT_CWD = dir;
    try {
      expect(resolveBundle('good.bundle', here)).to.equal(good);
    } finally {
      if (started === undefined) delete process.env.INIT_CWD;
      else process.env.INIT_CWD = started;
    }
  });

  it('loads: the images to docker load, kind and kubectl where cluster:up links them, the stamps and the tag', async () => {
    const cache = mkdtempSync(join(dir, 'cache-'));
    let loaded = '';
    const tag = await loadBundle(await verifyBundle(good), {
      cache,
      log: () => undefined,
      imageId: async () => undefined,
      dockerLoad: async (tar) => {
        for await (const c of tar) loaded += c.toString();
      },
    });
    expect(tag).to.equal(here.nodeImage);
    expect(loaded).to.equal(images);
    const out = join(cache, 'out');
    expect(readFileSync(join(out, `kind-${here.versions.KIND_VERSION}`, 'kind'), 'utf8')).to.include(
      'echo kind',
    );
    expect(statSync(join(out, `kubernetes-${here.versions.K8S_VERSION}`, 'kubectl')).mode & 0o777).to.equal(
      0o755,
    );
    expect(readFileSync(join(out, 'rootfs-postgres.tar'), 'utf8')).to.equal('a root filesystem');
    expect(readFileSync(join(cache, 'stamps', 'rootfs-postgres'), 'utf8')).to.equal('c0ffee\n');
    expect(readFileSync(join(cache, 'node-image'), 'utf8').trim()).to.equal(here.nodeImage);
    expect(JSON.parse(readFileSync(join(cache, 'bundle.json'), 'utf8'))).to.include({ file: good });
    expect(readdirSync(cache).filter((f) => f.startsWith('.bundle'))).to.deep.equal([]);
  });

  it('does not load images Docker already has with the same id, and still installs the rest', async () => {
    const cache = mkdtempSync(join(dir, 'cache-'));
    const logs: string[] = [];
    await loadBundle(await verifyBundle(good), {
      cache,
      log: (l) => logs.push(l),
      imageId: async () => 'sha256:feed',
      dockerLoad: () => Promise.reject(new Error('docker load must not run')),
    });
    expect(logs.join('\n')).to.match(/already has .* with the bundle's id: not loading it again/);
    expect(existsSync(join(cache, 'out', `kind-${here.versions.KIND_VERSION}`, 'kind'))).to.equal(true);
  });
});
