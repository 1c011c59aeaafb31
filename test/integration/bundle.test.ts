// The cluster bundle of this machine's build: made by the real command (`cluster:bundle`, reused
// while this node image is current: a -19 bundle takes minutes), verified, loaded into a scratch
// cache with the whole payload streamed (Docker keeps its images), and refused by `cluster:up
// --bundle` in each broken form before anything is loaded: Docker's event log shows no image
// load and the scratch cache holds nothing. The load into an empty Docker and the cluster started
// from it are measured by hand (README, docs/labs/facilitator.md): they take the cluster away.
import { expect } from 'chai';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { $ } from 'zx';
import {
  BUNDLE_DIR,
  bundleName,
  checkoutFacts,
  loadBundle,
  verifyBundle,
  writeBundleFile,
  type BundleManifest,
  type Verified,
} from '../../lib/cluster/bundle.ts';
import { ByteReader, tarMembers } from '../../lib/cluster/tar.ts';
import { LAB_CACHE, REPO_ROOT } from '../../lib/cluster/paths.ts';
import { NODE_BIN } from './fixture.ts';

const here = checkoutFacts();
const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);

async function dockerId(tag: string): Promise<string | undefined> {
  const r = await $`docker image inspect -f {{.Id}} ${tag}`.nothrow().quiet();
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** This node image's bundle: the facilitator's if there is one, else the tests' own (made at -3). */
async function currentBundle(): Promise<string> {
  const id = await dockerId(here.nodeImage);
  expect(id, `${here.nodeImage} in Docker (npm run cluster:up builds it)`).to.be.a('string');
  for (const file of [
    join(BUNDLE_DIR, bundleName(here.nodeImage)),
    join(BUNDLE_DIR, 'test', bundleName(here.nodeImage)),
  ]) {
    if (!existsSync(file)) continue;
    const { manifest } = await verifyBundle(file).catch(() => ({ manifest: undefined }));
    if (manifest?.images[0]?.id === id) return file;
  }
  const t0 = performance.now();
  const out = join(BUNDLE_DIR, 'test') + '/';
  const r = await $({
    cwd: REPO_ROOT,
    nothrow: true,
  })`${NODE_BIN} scripts/cluster.ts bundle --out ${out} --level 3`;
  console.log(`${r.stdout}${r.stderr}`.replace(/^/gm, '    '));
  expect(r.exitCode, r.stderr).to.equal(0);
  console.log(`    cluster:bundle --level 3: ${secs(t0)}s`);
  return join(out, bundleName(here.nodeImage));
}

describe('cluster bundle of this build', function () {
  this.timeout(10 * 60_000);
  let file: string;
  let verified: Verified;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-bundle-it-'));
    file = await currentBundle();
    const t0 = performance.now();
    verified = await verifyBundle(file);
    console.log(`    ${file}: verified in ${secs(t0)}s`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("names this checkout's node image as the build scripts tag it, and Docker's id for it", async () => {
    const { manifest } = verified;
    expect(manifest.nodeImage).to.equal(readFileSync(join(LAB_CACHE, 'node-image'), 'utf8').trim());
    expect(manifest.nodeImage).to.equal(here.nodeImage);
    expect(manifest.images).to.deep.equal([{ tag: here.nodeImage, id: await dockerId(here.nodeImage) }]);
    expect(manifest.versions).to.deep.equal(here.versions);
    expect(manifest.members.map((m) => m.name)).to.include.members(['kind', 'kubectl', 'images.tar']);
  });

  it('streams its images as the docker save of the node image, and installs working kind and kubectl', async () => {
    const cache = join(dir, 'full');
    let repoTags: string[] = [];
    const t0 = performance.now();
    await loadBundle(verified, {
      cache,
      log: () => undefined,
      imageId: async () => undefined, // as on a laptop: Docker has nothing yet
      dockerLoad: async (tar) => {
        for await (const m of tarMembers(new ByteReader(tar))) {
          if (m.name !== 'manifest.json') continue;
          let text = '';
          for await (const c of m.data) text += c.toString();
          repoTags = (JSON.parse(text) as { RepoTags: string[] }[]).flatMap((i) => i.RepoTags);
        }
      },
    });
    console.log(`    whole payload decompressed and checked in ${secs(t0)}s`);
    expect(repoTags).to.deep.equal([here.nodeImage]);
    const kind = join(cache, 'out', `kind-${here.versions.KIND_VERSION}`, 'kind');
    expect((await $`${kind} version`).stdout).to.include(here.versions.KIND_VERSION);
    const kubectl = join(cache, 'out', `kubernetes-${here.versions.K8S_VERSION}`, 'kubectl');
    expect((await $`${kubectl} version --client`).stdout).to.include(here.versions.K8S_VERSION);
    expect(readFileSync(join(cache, 'node-image'), 'utf8').trim()).to.equal(here.nodeImage);
  });

  it('loads nothing into Docker when Docker has the node image with the same id', async () => {
    const logs: string[] = [];
    const t0 = performance.now();
    await loadBundle(verified, {
      cache: join(dir, 'again'),
      log: (l) => logs.push(l),
      dockerLoad: () => Promise.reject(new Error('docker load must not run')),
    });
    console.log(`    with the images already in Docker: ${secs(t0)}s`);
    expect(logs.join('\n')).to.include('not loading it again');
  });

  describe('cluster:up --bundle refuses a broken bundle before loading or writing anything', () => {
    const broken: Record<string, string> = {};

    /** The bundle rewritten with another manifest, summed again: sound, but made for something else. */
    async function rewritten(name: string, edit: (m: BundleManifest) => BundleManifest): Promise<string> {
      const payload = join(dir, 'payload.tar.zst');
      if (!existsSync(payload)) {
        const { offset, size } = verified.payload;
        await pipeline(
          createReadStream(file, { start: offset, end: offset + size - 1 }),
          createWriteStream(payload),
        );
      }
      const out = join(dir, name);
      await writeBundleFile(out, edit(verified.manifest), 'K8S_VERSION=v1.30.0\n', payload);
      return out;
    }

    before(async () => {
      const copy = (name: string) => {
        copyFileSync(file, join(dir, name));
        return join(dir, name);
      };
      broken.flipped = copy('flipped.bundle');
      const middle = verified.payload.offset + Math.floor(verified.payload.size / 2);
      const handle = await open(broken.flipped, 'r+');
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, middle);
      byte[0] = byte[0]! ^ 0x01;
      await handle.write(byte, 0, 1, middle);
      await handle.close();
      broken.truncated = copy('truncated.bundle');
      truncateSync(broken.truncated, verified.payload.offset + 1000);
      broken.pins = await rewritten('pins.bundle', (m) => ({
        ...m,
        versions: { ...m.versions, K8S_VERSION: 'v1.30.0', ETCD_VERSION: 'v3.5.12' },
      }));
      broken.scripts = await rewritten('scripts.bundle', (m) => ({
        ...m,
        nodeImage: `statefulset-lab/node:${m.versions.K8S_VERSION}-0123456789ab`,
        nodeKeyFiles: { ...m.nodeKeyFiles, 'scripts/build/rootfs.sh': '0'.repeat(64) },
      }));
      broken.notBundle = join(dir, 'notes.bundle');
      writeFileSync(broken.notBundle, 'the bundle is on the share\n');
    });

    const expected: Record<string, RegExp> = {
      flipped:
        /payload\.tar\.zst does not match the checksum in its manifest\. The file is damaged or incomplete: copy it again/,
      truncated: /it is truncated: \d+ bytes of \d+ \(0\.\d%\)/,
      pins: new RegExp(
        `other pinned versions than this checkout's scripts/versions\\.env: K8S_VERSION v1\\.30\\.0 in the bundle, ${here.versions.K8S_VERSION} here; ETCD_VERSION v3\\.5\\.12 in the bundle, ${here.versions.ETCD_VERSION} here\\. Make a bundle from this checkout`,
      ),
      scripts:
        /node image statefulset-lab\/node:v[\d.]+-0123456789ab was built by other build scripts than this checkout's, which builds statefulset-lab\/node:v[\d.]+-[0-9a-f]{12} \(scripts\/build\/rootfs\.sh differ\)/,
      notBundle: /not a statefulset-lab cluster bundle/,
    };

    for (const [kind, message] of Object.entries(expected)) {
      it(`${kind}: refused with what to do; no image loaded, the cache left empty`, async () => {
        const cache = join(dir, `cache-${kind}`);
        mkdirSync(cache);
        const since = Math.floor(Date.now() / 1000) - 1;
        const t0 = performance.now();
        const r = await $({
          cwd: REPO_ROOT,
          nothrow: true,
          quiet: true,
          env: { ...process.env, LAB_CACHE: cache },
        })`${NODE_BIN} scripts/cluster.ts up --bundle ${broken[kind]!}`;
        const took = secs(t0);
        const until = Math.floor(Date.now() / 1000) + 1;
        const output = `${r.stdout}\n${r.stderr}`;
        expect(r.exitCode, output).to.equal(1);
        expect(output).to.match(message);
        expect(output, 'refused in the first stage').to.match(/verify bundle: FAILED/);
        expect(output).not.to.match(/docker engine|load bundle/);
        const loads =
          await $`docker events --since ${since} --until ${until} --filter type=image --filter event=load --filter event=import --format {{.Action}}`;
        expect(loads.stdout.trim(), 'docker events: image loads during the refusal').to.equal('');
        expect(readdirSync(cache), 'what cluster:up left in its cache').to.deep.equal([]);
        console.log(`    ${kind}: refused in ${took}s`);
      });
    }
  });
});
