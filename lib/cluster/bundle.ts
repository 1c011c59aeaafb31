// A cluster bundle: one file with what a laptop needs to start the lab's cluster without Go and
// without building (the node image with its preloads, kind, kubectl, the pins). `cluster:bundle`
// makes it from this machine's build; `cluster:up` with LAB_BUNDLE or --bundle verifies all of it,
// refuses it before anything is loaded or written when it is corrupt or made for other pins or build
// scripts, then loads it.
//
// The file is a plain tar (`tar -tvf` lists it), read and written here:
//   manifest.json     what it holds and for which checkout: pins, node image, image ids, members
//   versions.env      the maker's scripts/versions.env, to read without unpacking anything
//   payload.tar.zst   one zstd stream of a tar of kind, kubectl, [rootfs-postgres.tar], images.tar
//                     (docker save), in that order; long-distance matching finds kubectl, the
//                     preloaded layers and the PostgreSQL files again inside the node image's layers
//   SHA256            sha256 of every byte before it: one check covers manifest and payload
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createZstdDecompress } from 'node:zlib';
import { $ } from 'zx';
import { parseVersions } from './images.ts';
import { LAB_CACHE, REPO_ROOT } from './paths.ts';
import {
  BLOCK,
  ByteReader,
  fileChunks,
  hashing,
  padding,
  tarEntry,
  tarMembers,
  Truncated,
  type TarMember,
} from './tar.ts';

export const BUNDLE_FORMAT = 'statefulset-lab-bundle/1';
/** Default output folder of `cluster:bundle`, beside the cache and outside any checkout. */
export const BUNDLE_DIR = join(dirname(LAB_CACHE), 'statefulset-lab-bundles');
/** Measured on 2 cores (README): 19 is the smallest file at a time a facilitator waits once. */
export const DEFAULT_LEVEL = 19;
/** zstd's long-distance window, 2^31 bytes: the node image repeats files up to ~1.5 GB apart. */
const WINDOW_LOG = 31;
const IMAGES_MEMBER = 'images.tar';

export interface Member {
  name: string;
  size: number;
  sha256: string;
}

export interface BundleManifest {
  format: string;
  createdAt: string;
  /** `git describe` of the checkout that made it, to name in a refusal. */
  commit: string;
  versions: Record<string, string>;
  nodeImage: string;
  /** sha256 of each file the node image's tag is keyed on (scripts/build/images.sh's NODE_KEY). */
  nodeKeyFiles: Record<string, string>;
  images: { tag: string; id: string }[];
  /** Inside the payload, in order. */
  members: Member[];
  payload: { size: number; sha256: string; compression: string };
  /** Build stamps that come with cache files in the payload (name → key). */
  stamps: Record<string, string>;
}

/** What this checkout expects of a bundle. */
export interface Checkout {
  versions: Record<string, string>;
  nodeImage: string;
  nodeKeyFiles: Record<string, string>;
}

/** A bundle cluster:up will not load; the message says why and what to do. */
export class BundleRefused extends Error {
  override name = 'BundleRefused';
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------
// What this checkout builds: the pins and the node image tag, keyed as images.sh keys it.

/**
 * The files images.sh hashes into the node image's tag, read from its `NODE_KEY=$(stage_key …)`
 * line so the two cannot drift; stage_key puts versions.env first.
 */
export function nodeKeyPaths(imagesSh: string): string[] {
  const m = /^NODE_KEY=\$\(stage_key ([^()]*)\)/m.exec(imagesSh);
  if (!m?.[1])
    throw new Error(
      'scripts/build/images.sh has no NODE_KEY=$(stage_key …) line: bundle.ts reads its key there',
    );
  const paths = [...m[1].matchAll(/"([^"]+)"/g)].map(([, arg = '']) => {
    if (arg === '$SELF') return 'scripts/build/images.sh';
    if (arg.startsWith('$REPO_ROOT/')) return arg.slice('$REPO_ROOT/'.length);
    throw new Error(`scripts/build/images.sh keys the node image on ${arg}, which bundle.ts cannot resolve`);
  });
  return ['scripts/versions.env', ...paths];
}

export function checkoutFacts(root = REPO_ROOT): Checkout {
  const read = (path: string) => readFileSync(join(root, path));
  const paths = nodeKeyPaths(read('scripts/build/images.sh').toString());
  const key = sha256(Buffer.concat(paths.map(read))).slice(0, 12);
  const versions = parseVersions(read('scripts/versions.env').toString());
  return {
    versions,
    nodeImage: `statefulset-lab/node:${versions.K8S_VERSION}-${key}`,
    nodeKeyFiles: Object.fromEntries(paths.map((p) => [p, sha256(read(p))])),
  };
}

/** Why this checkout cannot use a bundle made with `manifest`, or undefined when it can. */
export function incompatibility(manifest: BundleManifest, here: Checkout): string | undefined {
  const pins = [...new Set([...Object.keys(manifest.versions), ...Object.keys(here.versions)])]
    .filter((k) => manifest.versions[k] !== here.versions[k])
    .map(
      (k) => `${k} ${manifest.versions[k] ?? '(none)'} in the bundle, ${here.versions[k] ?? '(none)'} here`,
    );
  const remedy =
    `Make a bundle from this checkout (npm run cluster:bundle where it was built), ` +
    `or check out the bundle's commit (${manifest.commit}).`;
  if (pins.length)
    return `it was made with other pinned versions than this checkout's scripts/versions.env: ${pins.join('; ')}. ${remedy}`;
  if (manifest.nodeImage === here.nodeImage) return undefined;
  const files = Object.keys({ ...manifest.nodeKeyFiles, ...here.nodeKeyFiles }).filter(
    (p) => manifest.nodeKeyFiles[p] !== here.nodeKeyFiles[p],
  );
  return (
    `its node image ${manifest.nodeImage} was built by other build scripts than this checkout's, ` +
    `which builds ${here.nodeImage}${files.length ? ` (${files.join(', ')} differ)` : ''}. ${remedy}`
  );
}

/** The payload's tar: each file a member, in order; each member's size and hash go to `members`. */
export async function* payloadTar(files: [string, string][], members: Member[]): AsyncGenerator<Buffer> {
  for (const [name, path] of files) {
    const size = statSync(path).size;
    const hash = createHash('sha256');
    yield* tarEntry(name, size, hashing(fileChunks(path), hash), name.endsWith('.tar') ? 0o644 : 0o755);
    members.push({ name, size, sha256: hash.digest('hex') });
  }
  yield Buffer.alloc(2 * BLOCK);
}

// ---------------------------------------------------------------------------------------------
// The outer file.

/** Writes the bundle file: manifest, versions.env, payload and the sum of all of it. */
export async function writeBundleFile(
  out: string,
  manifest: BundleManifest,
  versionsEnv: string,
  payload: string,
): Promise<void> {
  const sum = createHash('sha256');
  const json = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  const env = Buffer.from(versionsEnv);
  async function* body() {
    yield* hashing(tarEntry('manifest.json', json.length, [json]), sum);
    yield* hashing(tarEntry('versions.env', env.length, [env]), sum);
    yield* hashing(tarEntry('payload.tar.zst', statSync(payload).size, fileChunks(payload)), sum);
    const digest = Buffer.from(sum.digest('hex') + '\n');
    yield* tarEntry('SHA256', digest.length, [digest]);
    yield Buffer.alloc(2 * BLOCK);
  }
  await pipeline(Readable.from(body()), createWriteStream(out));
}

export interface Verified {
  file: string;
  manifest: BundleManifest;
  /** Where the payload's bytes are in the file. */
  payload: { offset: number; size: number };
}

/**
 * Reads the whole file and checks it is a bundle, complete and unaltered. Reads only: a refusal
 * leaves Docker and the cache as they were.
 */
export async function verifyBundle(file: string): Promise<Verified> {
  const refuse = (why: string) => new BundleRefused(`bundle ${file}: ${why}`);
  const corrupt = (why: string) =>
    refuse(`${why}. The file is damaged or incomplete: copy it again from the original (compare sha256sum).`);
  if (!existsSync(file) || !statSync(file).isFile()) throw refuse('no such file');
  const sum = createHash('sha256');
  let beforeHeader = sum.copy();
  const reader = new ByteReader(fileChunks(file), (b) => sum.update(b));
  const members = tarMembers(reader, () => (beforeHeader = sum.copy()));
  const next = async (want: string, max?: number) => {
    const r = await members.next();
    if (r.done) throw new Truncated(`it ends before ${want}`);
    if (r.value.name !== want) throw new Error(`holds ${r.value.name} where ${want} belongs`);
    if (max !== undefined && r.value.size > max) throw new Error(`its ${want} is ${r.value.size} bytes`);
    return r.value;
  };
  const text = async (m: TarMember) => {
    const parts: Buffer[] = [];
    for await (const chunk of m.data) parts.push(chunk);
    return Buffer.concat(parts).toString('utf8');
  };
  let first: TarMember;
  try {
    first = await next('manifest.json', 1 << 20);
  } catch (err) {
    await reader.close();
    throw refuse(
      `not a statefulset-lab cluster bundle (${err instanceof Error ? err.message : String(err)}). Pass the .bundle file that npm run cluster:bundle wrote.`,
    );
  }
  try {
    const manifest = JSON.parse(await text(first)) as BundleManifest;
    if (manifest.format !== BUNDLE_FORMAT)
      throw refuse(
        `its format is ${String(manifest.format)}, and this checkout reads ${BUNDLE_FORMAT}. Make a bundle with this checkout (npm run cluster:bundle).`,
      );
    await text(await next('versions.env', 1 << 20));
    // The size is known before the payload is read: a cut-off copy is refused at once.
    const entry = (size: number) => BLOCK + size + padding(size);
    const expected = reader.offset + entry(manifest.payload.size) + entry(65) + 2 * BLOCK;
    const size = statSync(file).size;
    if (size < expected)
      throw corrupt(
        `it is truncated: ${size} bytes of ${expected} (${((100 * size) / expected).toFixed(1)}%)`,
      );
    const payload = await next('payload.tar.zst');
    const offset = reader.offset;
    const hash = createHash('sha256');
    for await (const chunk of payload.data) hash.update(chunk);
    const payloadOk =
      payload.size === manifest.payload.size && hash.digest('hex') === manifest.payload.sha256;
    const claimed = (await text(await next('SHA256', 100))).trim();
    const whole = beforeHeader.digest('hex');
    if (!payloadOk) throw corrupt('payload.tar.zst does not match the checksum in its manifest');
    if (claimed !== whole) throw corrupt(`its SHA256 says ${claimed}, its content sums to ${whole}`);
    return { file, manifest, payload: { offset, size: payload.size } };
  } catch (err) {
    if (err instanceof BundleRefused) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw corrupt(err instanceof Truncated ? `it is truncated: ${why}` : why);
  } finally {
    await reader.close();
  }
}

/** LAB_BUNDLE or --bundle: a file, or a folder holding bundles (this checkout's by name, else the newest). */
export function resolveBundle(path: string, here: Checkout): string {
  const given = fromUser(path);
  if (!existsSync(given) || !statSync(given).isDirectory()) return given;
  const files = readdirSync(given)
    .filter((f) => f.endsWith('.bundle'))
    .map((f) => join(given, f));
  if (!files.length) throw new BundleRefused(`bundle folder ${given}: it holds no *.bundle file`);
  return (
    files.find((f) => basename(f) === bundleName(here.nodeImage)) ??
    files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!
  );
}

/** A path the user typed: npm runs scripts in the package root, and keeps where it started in INIT_CWD. */
const fromUser = (path: string) => resolve(process.env.INIT_CWD ?? process.cwd(), path);

export const bundleName = (nodeImage: string) =>
  `statefulset-lab-${nodeImage.replace(/^.*\/node:/, 'node-')}.bundle`;

// ---------------------------------------------------------------------------------------------
// Making one.

export interface MakeOptions {
  out?: string;
  level?: number;
  cache?: string;
  log?: (line: string) => void;
}

async function imageId(tag: string): Promise<string | undefined> {
  const r = await $`docker image inspect -f {{.Id}} ${tag}`.nothrow().quiet();
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** What the payload takes from the cache: path in the payload → file. */
function cacheSources(cache: string, versions: Record<string, string>) {
  const out = join(cache, 'out');
  return {
    kind: join(out, `kind-${versions.KIND_VERSION}`, 'kind'),
    kubectl: join(out, `kubernetes-${versions.K8S_VERSION}`, 'kubectl'),
    'rootfs-postgres.tar': join(out, 'rootfs-postgres.tar'),
  };
}

/** Makes a bundle of this machine's build for this checkout; returns its path. */
export async function makeBundle(options: MakeOptions = {}): Promise<string> {
  const { level = DEFAULT_LEVEL, cache = LAB_CACHE, log = console.log } = options;
  if (!Number.isInteger(level) || level < 1 || level > 19)
    throw new Error(`--level ${level}: zstd levels run from 1 (fastest) to 19 (smallest)`);
  const here = checkoutFacts();
  const t0 = performance.now();
  const nodeId = await imageId(here.nodeImage);
  const sources = cacheSources(cache, here.versions);
  const missing = [
    ...(nodeId ? [] : [`the node image ${here.nodeImage} (not in Docker)`]),
    ...[sources.kind, sources.kubectl].filter((f) => !existsSync(f)),
  ];
  if (missing.length)
    throw new Error(
      `nothing to bundle yet: ${missing.join(', ')}. Build this checkout's cluster first (npm run cluster:up).`,
    );
  const out = bundlePath(options.out, here.nodeImage);
  mkdirSync(dirname(out), { recursive: true });
  const work = mkdtempSync(join(dirname(out), '.bundle-work-'));
  try {
    const images = join(work, IMAGES_MEMBER);
    let t = performance.now();
    await $`docker save -o ${images} ${here.nodeImage}`;
    log(`[bundle] docker save ${here.nodeImage}: ${mib(statSync(images).size)} in ${secs(t)}`);

    // The PostgreSQL root filesystem and its stamp let a laptop's postgres-image.sh skip
    // debootstrap: it builds the image from the file in seconds. A stamp the laptop's script keys
    // differently only makes it build as usual.
    const stamps: Record<string, string> = {};
    const pgStamp = join(cache, 'stamps', 'rootfs-postgres');
    const files: [string, string][] = [
      ['kind', sources.kind],
      ['kubectl', sources.kubectl],
    ];
    if (existsSync(sources['rootfs-postgres.tar']) && existsSync(pgStamp)) {
      files.push(['rootfs-postgres.tar', sources['rootfs-postgres.tar']]);
      stamps['rootfs-postgres'] = readFileSync(pgStamp, 'utf8').trim();
    } else log('[bundle] no PostgreSQL root filesystem built here: left out (--profile postgres builds it)');
    files.push([IMAGES_MEMBER, images]);

    const members: Member[] = [];
    const payload = join(work, 'payload.tar.zst');
    const compression = `zstd -${level} --long=${WINDOW_LOG} -T0`;
    log(
      `[bundle] ${compression}… (-19 takes about 10 minutes on 2 cores; --level 3 under a minute, a third larger)`,
    );
    t = performance.now();
    await compress(payloadTar(files, members), payload, level);
    const raw = members.reduce((a, m) => a + m.size, 0);
    const packed = statSync(payload).size;
    log(
      `[bundle] ${compression}: ${mib(raw)} → ${mib(packed)} (${((100 * packed) / raw).toFixed(1)}%) in ${secs(t)}`,
    );
    for (const m of members) log(`[bundle]   ${m.name.padEnd(20)} ${mib(m.size).padStart(12)}`);

    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      createdAt: new Date().toISOString(),
      commit:
        (await $({ cwd: REPO_ROOT })`git describe --always --dirty`.nothrow()).stdout.trim() || 'unknown',
      versions: here.versions,
      nodeImage: here.nodeImage,
      nodeKeyFiles: here.nodeKeyFiles,
      images: [{ tag: here.nodeImage, id: nodeId! }],
      members,
      payload: { size: packed, sha256: await fileSha256(payload), compression },
      stamps,
    };
    const partial = join(work, basename(out));
    await writeBundleFile(
      partial,
      manifest,
      readFileSync(join(REPO_ROOT, 'scripts/versions.env'), 'utf8'),
      payload,
    );
    renameSync(partial, out);
    t = performance.now();
    await verifyBundle(out);
    log(`[bundle] read back and verified in ${secs(t)}`);
    log(`[bundle] ${out}: ${mib(statSync(out).size)}, made in ${secs(t0)}`);
    log(`[bundle] sha256sum of the file, to check copies with: ${await fileSha256(out)}`);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function bundlePath(typed: string | undefined, nodeImage: string): string {
  if (!typed) return join(BUNDLE_DIR, bundleName(nodeImage));
  const given = fromUser(typed);
  if (typed.endsWith('/') || (existsSync(given) && statSync(given).isDirectory()))
    return join(given, bundleName(nodeImage));
  return given;
}

const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)}s`;

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fileChunks(path)) hash.update(chunk);
  return hash.digest('hex');
}

/** The zstd program, on every core; it is the maker's tool only (laptops decompress in Node). */
async function compress(data: AsyncIterable<Buffer>, out: string, level: number): Promise<void> {
  if ((await $`command -v zstd`.nothrow().quiet()).exitCode !== 0)
    throw new Error('zstd is not installed: apt-get install zstd');
  const child = spawn('zstd', ['-q', `-${level}`, `--long=${WINDOW_LOG}`, '-T0', '-f', '-o', out], {
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  await pipeline(Readable.from(data), child.stdin);
  const code = await exited;
  if (code !== 0) throw new Error(`zstd exited with ${code}`);
}

// ---------------------------------------------------------------------------------------------
// Loading one.

export interface LoadOptions {
  cache?: string;
  log?: (line: string) => void;
  /** Docker's id for a tag (tests pass their own). */
  imageId?: (tag: string) => Promise<string | undefined>;
  /** Feeds a `docker save` stream to `docker load` (tests pass their own). */
  dockerLoad?: (tar: AsyncIterable<Buffer>) => Promise<void>;
}

/** What cluster:up remembers of the bundle it loaded ($LAB_CACHE/bundle.json). */
interface LoadedRecord {
  file: string;
  loadedAt: string;
  manifest: BundleManifest;
}
const recordPath = (cache: string) => join(cache, 'bundle.json');
/** Whether a bundle filled this cache (its later cluster:up runs take the images from there). */
export const bundleLoadedHere = (cache = LAB_CACHE) => existsSync(recordPath(cache));

/** Verifies a bundle and that this checkout can use it; reads only. */
export async function verifyForCheckout(file: string, here = checkoutFacts()): Promise<Verified> {
  const verified = await verifyBundle(file);
  const why = incompatibility(verified.manifest, here);
  if (why) throw new BundleRefused(`bundle ${file}: ${why}`);
  return verified;
}

/**
 * Loads a verified bundle: its images into Docker (unless Docker has them with the same ids), kind
 * and kubectl where cluster:up links them from, the node image's tag as a build leaves it; returns
 * that tag. Every member is hashed again on the way, against the manifest.
 */
export async function loadBundle(verified: Verified, options: LoadOptions = {}): Promise<string> {
  const { cache = LAB_CACHE, log = console.log } = options;
  const { file, manifest } = verified;
  const present = await Promise.all(
    manifest.images.map(async (i) => (await (options.imageId ?? imageId)(i.tag)) === i.id),
  );
  const skipImages = present.every(Boolean);
  log(
    skipImages
      ? `[bundle] Docker already has ${manifest.images.map((i) => i.tag).join(', ')} with the bundle's id: not loading it again`
      : `[bundle] loading ${manifest.images.map((i) => i.tag).join(', ')} into Docker`,
  );
  mkdirSync(cache, { recursive: true });
  const staging = mkdtempSync(join(cache, '.bundle-load-'));
  try {
    const payloadHash = createHash('sha256');
    const source = fileChunks(
      file,
      verified.payload.offset,
      verified.payload.offset + verified.payload.size - 1,
    );
    const unzstd = createZstdDecompress({
      // 1 MiB pieces: with the default 16 KiB, decompressing took twice as long as the zstd program.
      chunkSize: 1 << 20,
      params: { [zlib.ZSTD_d_windowLogMax]: WINDOW_LOG },
    });
    const feeding = pipeline(Readable.from(hashing(source, payloadHash)), unzstd);
    const reader = new ByteReader(unzstd);
    let index = 0;
    let stoppedEarly = false;
    try {
      for await (const member of tarMembers(reader)) {
        const want = manifest.members[index++];
        if (!want || member.name !== want.name || member.size !== want.size)
          throw new BundleRefused(
            `bundle ${file}: its payload holds ${member.name} where its manifest says ${want?.name}`,
          );
        const t = performance.now();
        const hash = createHash('sha256');
        const data = hashing(member.data, hash);
        if (member.name === IMAGES_MEMBER && skipImages) {
          // The images come last: with Docker holding them there is nothing further to read.
          stoppedEarly = index === manifest.members.length;
          if (stoppedEarly) break;
          for await (const _ of data);
        } else if (member.name === IMAGES_MEMBER) {
          await (options.dockerLoad ?? dockerLoad)(data);
          log(`[bundle] docker load: ${mib(member.size)} in ${secs(t)}`);
        } else await pipeline(Readable.from(data), createWriteStream(join(staging, member.name)));
        if (hash.digest('hex') !== want.sha256)
          throw new BundleRefused(
            `bundle ${file}: ${member.name} does not match its checksum; copy the bundle again`,
          );
      }
      if (!stoppedEarly) await feeding;
    } finally {
      unzstd.destroy();
      await feeding.catch(() => undefined);
    }
    if (
      !stoppedEarly &&
      (index !== manifest.members.length || payloadHash.digest('hex') !== manifest.payload.sha256)
    )
      throw new BundleRefused(`bundle ${file}: it changed while it was loaded; copy it again`);
    install(staging, cache, manifest);
    const record: LoadedRecord = { file, loadedAt: new Date().toISOString(), manifest };
    writeFileSync(recordPath(cache), JSON.stringify(record, null, 2) + '\n');
    return manifest.nodeImage;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Puts the staged files where a build leaves them, so the rest of cluster:up works unchanged. */
function install(staging: string, cache: string, manifest: BundleManifest): void {
  const sources = cacheSources(cache, manifest.versions);
  for (const [name, target] of Object.entries(sources)) {
    if (!existsSync(join(staging, name))) continue;
    mkdirSync(dirname(target), { recursive: true });
    renameSync(join(staging, name), target);
    if (!name.endsWith('.tar')) chmodSync(target, 0o755);
  }
  mkdirSync(join(cache, 'stamps'), { recursive: true });
  for (const [name, key] of Object.entries(manifest.stamps))
    writeFileSync(join(cache, 'stamps', name), key + '\n');
  writeFileSync(join(cache, 'node-image'), manifest.nodeImage + '\n');
}

async function dockerLoad(tar: AsyncIterable<Buffer>): Promise<void> {
  const child = spawn('docker', ['load'], { stdio: ['pipe', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  try {
    await pipeline(Readable.from(tar), child.stdin);
  } catch (err) {
    child.kill();
    await exited.catch(() => undefined);
    throw new Error(
      `docker load failed: ${stderr.trim() || (err instanceof Error ? err.message : String(err))}`,
      {
        cause: err,
      },
    );
  }
  const code = await exited;
  if (code !== 0) throw new Error(`docker load exited with ${code}: ${stderr.trim()}`);
}

/**
 * Without LAB_BUNDLE: the node image a bundle loaded into this cache earlier, when it is still
 * this checkout's and in Docker (cluster:up then builds nothing). When this cache came from a
 * bundle and has no Go to build with, says what to do instead of failing in the build.
 */
export async function nodeImageFromLoadedBundle(
  cache = LAB_CACHE,
  here = checkoutFacts(),
): Promise<string | undefined> {
  if (!existsSync(recordPath(cache))) return undefined;
  const record = JSON.parse(readFileSync(recordPath(cache), 'utf8')) as LoadedRecord;
  const { manifest } = record;
  const why = incompatibility(manifest, here);
  const id = why ? undefined : await imageId(manifest.nodeImage);
  if (!why && id === manifest.images.find((i) => i.tag === manifest.nodeImage)?.id) {
    console.log(
      `[cluster] node image ${manifest.nodeImage}: from the bundle loaded ${record.loadedAt}; nothing to build`,
    );
    return manifest.nodeImage;
  }
  const problem = why ?? `Docker no longer has ${manifest.nodeImage}`;
  if ((await $`command -v go`.nothrow().quiet()).exitCode === 0) {
    console.log(
      `[cluster] the bundle loaded ${record.loadedAt} does not serve: ${problem}. Building instead.`,
    );
    rmSync(recordPath(cache)); // from here on this cache is a build's
    return undefined;
  }
  throw new BundleRefused(
    `this cache's images came from the bundle ${record.file} (loaded ${record.loadedAt}), and ${problem.replace(/^it /, 'that bundle ')} ` +
      `Run cluster:up with LAB_BUNDLE=<a bundle for this checkout>, or install Go (≥ 1.24) to build here.`,
  );
}
