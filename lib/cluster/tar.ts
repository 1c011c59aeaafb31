// tar, as much as the cluster bundle needs (lib/cluster/bundle.ts): regular files, ustar headers,
// names under 100 bytes; read as a stream in exact pieces, so a member is checked as it goes by.
import { createReadStream } from 'node:fs';
import type { Hash } from 'node:crypto';

export const BLOCK = 512;
export const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

export function tarHeader(name: string, size: number, mode = 0o644): Buffer {
  if (Buffer.byteLength(name) >= 100) throw new Error(`tar member name too long: ${name}`);
  if (size >= 8 ** 11) throw new Error(`tar member ${name} is too large for a ustar header`);
  const h = Buffer.alloc(BLOCK);
  const octal = (value: number, at: number, width: number) =>
    h.write(value.toString(8).padStart(width - 1, '0') + '\0', at, 'ascii');
  h.write(name, 0, 'utf8');
  octal(mode, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(Math.floor(Date.now() / 1000), 136, 12);
  h.write('0', 156, 'ascii');
  h.write('ustar\0' + '00', 257, 'ascii');
  h.fill(' ', 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** A header block's name and size; undefined for the zero block that ends an archive. */
export function parseTarHeader(h: Buffer): { name: string; size: number } | undefined {
  if (h.every((b) => b === 0)) return undefined;
  const field = (at: number, width: number) => h.toString('ascii', at, at + width).replace(/[\0 ]+$/, '');
  const stored = parseInt(field(148, 8), 8);
  const sum = h.reduce((a, b, i) => a + (i >= 148 && i < 156 ? 32 : b), 0);
  if (field(257, 5) !== 'ustar' || stored !== sum) throw new Error('not a tar header');
  return { name: h.toString('utf8', 0, 100).replace(/\0.*$/s, ''), size: parseInt(field(124, 12), 8) };
}

export class Truncated extends Error {
  override name = 'Truncated';
}

/** Reads a byte stream in exact pieces; `tap` sees every byte handed out, in order. */
export class ByteReader {
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly it: AsyncIterator<Buffer>;
  private readonly tap?: (bytes: Buffer) => void;
  offset = 0;
  constructor(source: AsyncIterable<Buffer>, tap?: (bytes: Buffer) => void) {
    this.it = source[Symbol.asyncIterator]();
    this.tap = tap;
  }

  /** Stops reading (closes the file or stream behind it). */
  async close(): Promise<void> {
    await this.it.return?.();
  }

  /** Up to `max` bytes; empty only at the end of the stream. */
  async take(max: number): Promise<Buffer> {
    while (this.pending.length === 0 && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.pending = r.value;
    }
    const out = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(out.length);
    this.offset += out.length;
    this.tap?.(out);
    return out;
  }

  async exact(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let left = n; left > 0;) {
      const b = await this.take(left);
      if (!b.length) throw new Truncated(`the stream ends at byte ${this.offset}, ${left} bytes early`);
      parts.push(b);
      left -= b.length;
    }
    return Buffer.concat(parts);
  }

  /** The next `n` bytes as chunks; what a consumer leaves unread, the next read skips past. */
  region(n: number): AsyncIterable<Buffer> & { skip(): Promise<void> } {
    let left = n;
    const next = async () => {
      const b = await this.take(left);
      if (!b.length) throw new Truncated(`the stream ends at byte ${this.offset}, ${left} bytes early`);
      left -= b.length;
      return b;
    };
    return {
      async *[Symbol.asyncIterator]() {
        while (left > 0) yield await next();
      },
      async skip() {
        while (left > 0) await next();
      },
    };
  }
}

export interface TarMember {
  name: string;
  size: number;
  data: AsyncIterable<Buffer>;
}

/** The members of a tar stream, one at a time; `beforeHeader` runs before each header is read. */
export async function* tarMembers(reader: ByteReader, beforeHeader?: () => void): AsyncGenerator<TarMember> {
  for (;;) {
    beforeHeader?.();
    const header = parseTarHeader(await reader.exact(BLOCK));
    if (!header) return;
    const data = reader.region(header.size);
    yield { ...header, data };
    await data.skip();
    await reader.exact(padding(header.size));
  }
}

/** A tar member's bytes: header, data, padding. */
export async function* tarEntry(
  name: string,
  size: number,
  data: AsyncIterable<Buffer> | Iterable<Buffer>,
  mode?: number,
) {
  yield tarHeader(name, size, mode);
  let seen = 0;
  for await (const chunk of data) {
    seen += chunk.length;
    yield chunk;
  }
  if (seen !== size) throw new Error(`${name} changed while it was written (${seen} bytes, not ${size})`);
  yield Buffer.alloc(padding(size));
}

export const fileChunks = (path: string, start?: number, end?: number): AsyncIterable<Buffer> =>
  createReadStream(path, { start, end, highWaterMark: 1 << 20 });

export async function* hashing(
  data: AsyncIterable<Buffer> | Iterable<Buffer>,
  hash: Hash,
): AsyncGenerator<Buffer> {
  for await (const chunk of data) {
    hash.update(chunk);
    yield chunk;
  }
}
