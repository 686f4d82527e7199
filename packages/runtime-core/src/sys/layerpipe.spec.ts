import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { isAlreadyExists, isFailedPrecondition, type PodkitError } from '@podkit/errdefs';
import { LayerPipe, LayerPipeTruncated, layerPipeSupport, type LayerPipeDigests, type LayerPipeOptions } from './layerpipe';
import { waitUntil } from '../test-support/priv';
import { nativeDirs } from './native';

const MiB = 1024 * 1024;
const BLOCK = 512;

// ---- building tar streams by hand (ustar headers, PAX and GNU long names) ----

function octal(h: Buffer, off: number, len: number, v: number): void {
  h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

interface HeaderSpec {
  name: string;
  size?: number;
  type?: string;
  mode?: number;
  mtime?: number;
}

function header(spec: HeaderSpec): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(spec.name, 0, 100, 'utf8');
  octal(h, 100, 8, spec.mode ?? 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, spec.size ?? 0);
  octal(h, 136, 12, spec.mtime ?? 1600000000);
  h.fill(' ', 148, 156);
  h.write(spec.type ?? '0', 156, 1, 'latin1');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

function padTo(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** header + body + zero padding to the next block. */
function entry(spec: HeaderSpec, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([header({ ...spec, size: body.length }), body, Buffer.alloc(padTo(body.length) - body.length)]);
}

function paxData(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
    out += `${len}${rest}`;
  }
  return Buffer.from(out, 'utf8');
}

function paxEntry(records: Record<string, string>): Buffer {
  return entry({ name: 'PaxHeaders/x', type: 'x' }, paxData(records));
}

function endOfArchive(trailingPadding = 0): Buffer {
  return Buffer.alloc(2 * BLOCK + trailingPadding);
}

/** Deterministic bytes that gzip barely compresses. */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Deterministic bytes that gzip compresses well (so 1-byte writes of the blob stay few). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed + (i % 251) + Math.floor(i / 4096)) & 0xff;
  return b;
}

interface ExpectedFile {
  name: string;
  body: Buffer;
  mode: number;
}

interface TestTar {
  tar: Buffer;
  files: ExpectedFile[];
  dirs: string[];
}

/** A small tar: a directory, a PAX-named file, a GNU long-named file, a symlink entry, an empty file. */
function smallTar(seed = 1): TestTar {
  const longName = `dir/${'n'.repeat(150)}.txt`;
  const files: ExpectedFile[] = [
    { name: 'dir/a-pax-name.txt', body: noise(1000, seed), mode: 0o640 },
    { name: longName, body: Buffer.from('long name body\n'), mode: 0o600 },
    { name: 'empty', body: Buffer.alloc(0), mode: 0o644 },
    { name: 'dir/exact-block', body: noise(BLOCK, seed + 1), mode: 0o755 },
  ];
  const tar = Buffer.concat([
    entry({ name: 'dir/', type: '5', mode: 0o755 }),
    paxEntry({ path: files[0]!.name, mtime: '1600000000.25' }),
    entry({ name: 'dir/short', mode: files[0]!.mode }, files[0]!.body),
    entry({ name: '././@LongLink', type: 'L' }, Buffer.from(`${longName}\0`)),
    entry({ name: longName.slice(0, 99), mode: files[1]!.mode }, files[1]!.body),
    entry({ name: 'link', type: '2' }),
    entry({ name: 'empty', mode: files[2]!.mode }, files[2]!.body),
    entry({ name: 'dir/exact-block', mode: files[3]!.mode }, files[3]!.body),
    endOfArchive(3000),
  ]);
  return { tar, files, dirs: ['dir'] };
}

/** smallTar plus a body larger than the pipe's 1 MiB inflate buffer and a 20 KiB random one. */
function bigTar(seed = 1): TestTar {
  const small = smallTar(seed);
  const big: ExpectedFile = { name: 'dir/big.bin', body: pattern(2 * MiB + 777, seed), mode: 0o644 };
  const rnd: ExpectedFile = { name: 'random.bin', body: noise(20 * 1024 + 3, seed + 7), mode: 0o600 };
  const withoutEnd = small.tar.subarray(0, small.tar.length - endOfArchive(3000).length);
  const tar = Buffer.concat([
    withoutEnd,
    entry({ name: big.name, mode: big.mode }, big.body),
    entry({ name: rnd.name, mode: rnd.mode }, rnd.body),
    endOfArchive(10 * 1024),
  ]);
  return { tar, files: [...small.files, big, rnd], dirs: small.dirs };
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

// ---- driving a pipe the way image-store does ----

async function feed(pipe: LayerPipe, data: Buffer, piece: number): Promise<void> {
  for (let off = 0; off < data.length; off += piece) await pipe.write(data.subarray(off, off + piece));
  pipe.end();
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let s = data.toString('utf8');
  while (s.length > 0) {
    const sp = s.indexOf(' ');
    const len = Number(s.slice(0, sp));
    const rec = s.slice(sp + 1, len - 1);
    const eq = rec.indexOf('=');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    s = s.slice(len);
  }
  return out;
}

interface Consumed {
  entries: { name: string; type: string; size: number; sequence: number }[];
  endMarker: boolean;
}

/** Walks header sequences: regular files go through file(), other bodies through skip(). */
async function consume(pipe: LayerPipe, dir: string): Promise<Consumed> {
  const entries: Consumed['entries'] = [];
  let seq = await pipe.next();
  for (;;) {
    if (seq.length === 0) return { entries, endMarker: false };
    expect(seq.length % BLOCK).toBe(0);
    // Extension headers (and their data) come first; the last block is the entry's own header.
    let name: string | undefined;
    let off = 0;
    while (off < seq.length - BLOCK) {
      const h = seq.subarray(off, off + BLOCK);
      const size = parseInt(cString(h.subarray(124, 136)), 8);
      const data = seq.subarray(off + BLOCK, off + BLOCK + size);
      const type = String.fromCharCode(h[156]!);
      if (type === 'x') name = parsePax(data)['path'] ?? name;
      else if (type === 'L') name = cString(data);
      off += BLOCK + padTo(size);
    }
    expect(off).toBe(seq.length - BLOCK);
    const h = seq.subarray(seq.length - BLOCK);
    if (h.every((b) => b === 0)) return { entries, endMarker: true };
    name ??= cString(h.subarray(0, 100));
    const size = parseInt(cString(h.subarray(124, 136)), 8);
    const type = String.fromCharCode(h[156]!);
    const mode = parseInt(cString(h.subarray(100, 108)), 8);
    entries.push({ name, type, size, sequence: seq.length });
    if (type === '0') {
      seq = await pipe.file({ path: path.join(dir, name), size, pad: padTo(size) - size, chown: false, uid: 0, gid: 0, mode, mtime: 1650000000 });
    } else {
      if (type === '5') fs.mkdirSync(path.join(dir, name), { recursive: true });
      expect(await pipe.skip(padTo(size))).toBe(padTo(size));
      seq = await pipe.next();
    }
  }
}

function expectFiles(dir: string, t: TestTar): void {
  for (const f of t.files) {
    const p = path.join(dir, f.name);
    expect(fs.readFileSync(p).equals(f.body)).toBe(true);
    expect(fs.statSync(p).mode & 0o7777).toBe(f.mode);
  }
}

function options(compression: 'gzip' | 'none', extra: Partial<LayerPipeOptions> = {}): LayerPipeOptions {
  return { compression, maxPaxHeaderSize: 1 * MiB, maxLongNameSize: 4096, ...extra };
}

/** A full run: feed the blob in `piece`-byte writes, walk the tar, finish. */
async function unpack(blob: Buffer, compression: 'gzip' | 'none', piece: number, dir: string, extra: Partial<LayerPipeOptions> = {}): Promise<{ consumed: Consumed; digests: LayerPipeDigests }> {
  const pipe = new LayerPipe(options(compression, extra));
  try {
    const [, consumed] = await Promise.all([feed(pipe, blob, piece), consume(pipe, dir)]);
    const digests = await pipe.finish();
    return { consumed, digests };
  } finally {
    pipe.close();
  }
}

/** Resolves with 'settled' or 'pending' after `ms`; never leaves a timer behind. */
async function stateAfter(p: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  try {
    return await Promise.race([p.then(() => 'settled' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes 1 MiB pieces (up to 8) until one waits for room; returns that write's promise (boxed: an async function would await it). */
async function writeUntilWaiting(pipe: LayerPipe, piece: (i: number) => Buffer): Promise<{ write: Promise<void> }> {
  for (let i = 0; i < 8; i++) {
    const w = pipe.write(piece(i));
    if ((await stateAfter(w, 100)) === 'pending') return { write: w };
  }
  throw new Error('no write waited for room after 8 MiB');
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

async function gzipFailure(blob: Buffer, piece = blob.length || 1): Promise<unknown> {
  const pipe = new LayerPipe(options('gzip'));
  try {
    const fed = feed(pipe, blob, piece);
    const err = await rejection(pipe.finish());
    await fed;
    return err;
  } finally {
    pipe.close();
  }
}

// ---- the tests ----

describe('LayerPipe', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-layerpipe-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function subdir(name: string): string {
    const d = path.join(dir, name);
    fs.mkdirSync(d);
    return d;
  }

  it('is available in this build', () => {
    expect(layerPipeSupport()).toEqual({ available: true });
  });

  describe('digests and framing over a whole layer', () => {
    const big = bigTar(3);
    const gz = zlib.gzipSync(big.tar);
    const small = smallTar(5);
    const smallGz = zlib.gzipSync(small.tar);

    it('builds test blobs of useful shape', () => {
      // The big body spans the 1 MiB inflate buffer; its gzip stays small enough for 1-byte writes.
      expect(big.tar.length).toBeGreaterThan(2 * MiB);
      expect(gz.length).toBeLessThan(200 * 1024);
      expect(zlib.gunzipSync(gz).equals(big.tar)).toBe(true);
    });

    it.each([1, 511, 4096, MiB])('gzip, %i-byte writes: files, blob digest and diff ID', async (piece) => {
      const out = subdir('out');
      const { consumed, digests } = await unpack(gz, 'gzip', piece, out);
      expect(consumed.endMarker).toBe(true);
      expect(consumed.entries.map((e) => [e.name, e.type])).toEqual([
        ['dir/', '5'],
        ['dir/a-pax-name.txt', '0'],
        [big.files[1]!.name, '0'],
        ['link', '2'],
        ['empty', '0'],
        ['dir/exact-block', '0'],
        ['dir/big.bin', '0'],
        ['random.bin', '0'],
      ]);
      // The PAX entry's sequence: x header + one block of records + the file's header.
      expect(consumed.entries[1]!.sequence).toBe(3 * BLOCK);
      expectFiles(out, big);
      expect(digests).toEqual({ compressedDigest: sha256(gz), compressedSize: gz.length, diffId: sha256(big.tar), size: big.tar.length });
    });

    it.each([
      ['big', 511],
      ['big', 4096],
      ['big', MiB],
      ['small', 1],
    ] as const)('no compression, the %s tar in %i-byte writes: both digests are of the tar', async (which, piece) => {
      const t = which === 'big' ? big : small;
      const out = subdir('out');
      const { consumed, digests } = await unpack(t.tar, 'none', piece, out);
      expect(consumed.endMarker).toBe(true);
      expect(consumed.entries).toHaveLength(which === 'big' ? 8 : 6);
      expectFiles(out, t);
      expect(digests).toEqual({ compressedDigest: sha256(t.tar), compressedSize: t.tar.length, diffId: sha256(t.tar), size: t.tar.length });
    });

    it('the trailing zero padding after the end-of-archive blocks counts in the diff ID', async () => {
      const out = subdir('out');
      const { digests } = await unpack(smallGz, 'gzip', 4096, out);
      const withoutPadding = small.tar.subarray(0, small.tar.length - 3000);
      expect(digests.diffId).toBe(sha256(small.tar));
      expect(digests.diffId).not.toBe(sha256(withoutPadding));
      expect(digests.size).toBe(small.tar.length);
    });

    it('a tar made by the system tar gives the same digests', async () => {
      const src = subdir('src');
      fs.writeFileSync(path.join(src, 'one.txt'), 'one\n');
      fs.mkdirSync(path.join(src, 'sub'));
      fs.writeFileSync(path.join(src, 'sub', 'two.bin'), noise(70000, 9));
      const tarFile = path.join(dir, 'sys.tar');
      try {
        execFileSync('tar', ['--format=pax', '-cf', tarFile, '-C', src, 'one.txt', 'sub'], { stdio: 'ignore' });
      } catch {
        execFileSync('tar', ['-cf', tarFile, '-C', src, 'one.txt', 'sub'], { stdio: 'ignore' });
      }
      const tar = fs.readFileSync(tarFile);
      const blob = zlib.gzipSync(tar);
      const out = subdir('out');
      const { consumed, digests } = await unpack(blob, 'gzip', 4096, out);
      expect(consumed.endMarker).toBe(true);
      expect(consumed.entries.map((e) => e.name.replace(/\/$/, '')).sort()).toEqual(['one.txt', 'sub', 'sub/two.bin']);
      expect(fs.readFileSync(path.join(out, 'sub', 'two.bin')).equals(noise(70000, 9))).toBe(true);
      expect(digests).toEqual({ compressedDigest: sha256(blob), compressedSize: blob.length, diffId: sha256(tar), size: tar.length });
    });
  });

  describe('gzip members, padding and corruption', () => {
    const a = Buffer.concat([entry({ name: 'a' }, noise(3000, 1))]);
    const b = Buffer.concat([entry({ name: 'b' }, noise(5000, 2)), endOfArchive()]);
    const gzA = zlib.gzipSync(a);
    const gzB = zlib.gzipSync(b);

    it.each([
      ['nothing', 0, 1],
      ['nothing', 0, 7],
      ['nothing', 0, 4096],
      ['nothing', 0, MiB],
      // Zero padding is skipped byte by byte: the result does not depend on where writes are cut.
      ['5 zero bytes', 5, 1],
      ['5 zero bytes', 5, 3],
      ['5 zero bytes', 5, 4096],
    ] as const)('a multi-member stream with %s between the members inflates to the concatenation (%i, %i-byte writes)', async (_what, zeros, piece) => {
      const blob = Buffer.concat([gzA, Buffer.alloc(zeros), gzB]);
      const pipe = new LayerPipe(options('gzip'));
      try {
        const fed = feed(pipe, blob, piece);
        const all = await pipe.read(a.length + b.length + 100);
        await fed;
        expect(all.equals(Buffer.concat([a, b]))).toBe(true);
        expect(await pipe.finish()).toEqual({ compressedDigest: sha256(blob), compressedSize: blob.length, diffId: sha256(Buffer.concat([a, b])), size: a.length + b.length });
      } finally {
        pipe.close();
      }
    });

    it.each([1, 4096])('trailing zero bytes after a member are accepted (%i-byte writes)', async (piece) => {
      const blob = Buffer.concat([gzA, Buffer.alloc(1024)]);
      const pipe = new LayerPipe(options('gzip'));
      try {
        const fed = feed(pipe, blob, piece);
        expect((await pipe.read(a.length + 1)).equals(a)).toBe(true);
        await fed;
        expect(await pipe.finish()).toEqual({ compressedDigest: sha256(blob), compressedSize: blob.length, diffId: sha256(a), size: a.length });
      } finally {
        pipe.close();
      }
    });

    it('reads ahead between requests, and a failure it meets waits until the bytes before it were served', async () => {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-layerpipe-ahead-'));
      const ingest = path.join(tmp, 'blob');
      const fd = fs.openSync(ingest, 'w');
      const pipe = new LayerPipe(options('gzip', { ingest: { fd, keep: 0 } }));
      try {
        // The member, then the garbage in a write of its own: the thread appends a chunk to the ingestion
        // when it takes it, and takes the garbage only after inflating the whole member. So once the file
        // holds both, read-ahead (no request is pending) has inflated the member and is at the garbage.
        await pipe.write(gzA);
        await pipe.write(Buffer.from('abc'));
        pipe.end();
        await waitUntil(() => fs.statSync(ingest).size === gzA.length + 3, 'the pipe to take all its input');
        expect((await pipe.read(a.length)).equals(a)).toBe(true);
        expect(((await rejection(pipe.read(1))) as { code?: string }).code).toBe('Z_DATA_ERROR');
      } finally {
        pipe.close();
        fs.closeSync(fd);
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });

    it('no gzip data at all fails with Z_BUF_ERROR, as node:zlib says', async () => {
      const err = await gzipFailure(Buffer.alloc(0));
      expect((err as { code?: string }).code).toBe('Z_BUF_ERROR');
    });

    it('trailing garbage after a member fails with Z_DATA_ERROR', async () => {
      const err = await gzipFailure(Buffer.concat([gzA, Buffer.from('abc')]));
      expect(err).toBeInstanceOf(Error);
      expect((err as { code?: string }).code).toBe('Z_DATA_ERROR');
    });

    it('trailing garbage in a write of its own also fails with Z_DATA_ERROR', async () => {
      const pipe = new LayerPipe(options('gzip'));
      try {
        await pipe.write(gzA);
        await pipe.write(Buffer.from('abc'));
        pipe.end();
        expect(await rejection(pipe.finish())).toMatchObject({ code: 'Z_DATA_ERROR' });
      } finally {
        pipe.close();
      }
    });

    it.each([
      ['inside the deflate data', (gz: Buffer) => gz.subarray(0, Math.floor(gz.length / 2))],
      ['inside the trailer', (gz: Buffer) => gz.subarray(0, gz.length - 3)],
      ['inside the gzip header', (gz: Buffer) => gz.subarray(0, 5)],
    ])('a stream cut %s fails with Z_BUF_ERROR', async (_where, cut) => {
      for (const piece of [1, 4096]) {
        const err = await gzipFailure(cut(gzA), piece);
        expect(err).toBeInstanceOf(Error);
        expect((err as { code?: string }).code).toBe('Z_BUF_ERROR');
      }
    });

    it('a second member cut short fails with Z_BUF_ERROR', async () => {
      const err = await gzipFailure(Buffer.concat([gzA, gzB.subarray(0, 20)]), 4096);
      expect((err as { code?: string }).code).toBe('Z_BUF_ERROR');
    });

    it('a corrupt first byte fails with Z_DATA_ERROR, and the failure sticks', async () => {
      const blob = Buffer.from(gzA);
      blob[0] = 0x1e;
      const pipe = new LayerPipe(options('gzip'));
      try {
        const fed = feed(pipe, blob, 4096);
        const first = await rejection(pipe.next());
        await fed;
        expect(first).toMatchObject({ code: 'Z_DATA_ERROR' });
        expect(await rejection(pipe.finish())).toMatchObject({ code: 'Z_DATA_ERROR' });
      } finally {
        pipe.close();
      }
    });

    it('a non-gzip blob declared as gzip fails with Z_DATA_ERROR', async () => {
      const err = await gzipFailure(a);
      expect((err as { code?: string }).code).toBe('Z_DATA_ERROR');
    });
  });

  describe('next()', () => {
    async function sequences(input: Buffer, extra: Partial<LayerPipeOptions> = {}): Promise<Buffer[]> {
      const pipe = new LayerPipe(options('none', extra));
      try {
        await feed(pipe, input, 4096);
        const out: Buffer[] = [];
        for (;;) {
          const s = await pipe.next();
          out.push(s);
          if (s.length === 0) return out;
        }
      } finally {
        pipe.close();
      }
    }

    it('frames a PAX header, its data and the file header as one sequence', async () => {
      const records = paxData({ path: 'p'.repeat(700), 'SCHILY.xattr.user.k': 'v' });
      expect(records.length).toBeGreaterThan(BLOCK);
      const pax = entry({ name: 'PaxHeaders/f', type: 'x' }, records);
      const file = header({ name: 'f', size: 0 });
      const seqs = await sequences(Buffer.concat([pax, file]));
      expect(seqs).toHaveLength(2);
      expect(seqs[0]!.length).toBe(BLOCK + padTo(records.length) + BLOCK);
      expect(seqs[0]!.equals(Buffer.concat([pax, file]))).toBe(true);
      expect(seqs[1]!.length).toBe(0);
    });

    it('frames several extension headers (g, x, K, L) ahead of the entry', async () => {
      const g = entry({ name: 'PaxHeaders/g', type: 'g' }, paxData({ comment: 'global' }));
      const x = paxEntry({ mtime: '1.5' });
      const k = entry({ name: '././@LongLink', type: 'K' }, Buffer.from('target\0'));
      const l = entry({ name: '././@LongLink', type: 'L' }, Buffer.from('name\0'));
      const file = entry({ name: 'n', type: '2' });
      const seqs = await sequences(Buffer.concat([g, x, k, l, file, endOfArchive()]));
      expect(seqs.map((s) => s.length)).toEqual([g.length + x.length + k.length + l.length + BLOCK, BLOCK, BLOCK, 0]);
      expect(seqs[0]!.equals(Buffer.concat([g, x, k, l, file]))).toBe(true);
      expect(seqs[1]!.every((b) => b === 0)).toBe(true);
    });

    it('returns an empty Buffer at a clean end of input', async () => {
      expect(await sequences(Buffer.alloc(0))).toEqual([Buffer.alloc(0)]);
      const pipe = new LayerPipe(options('none'));
      try {
        pipe.end();
        const s = await pipe.next();
        expect(Buffer.isBuffer(s)).toBe(true);
        expect(s.length).toBe(0);
        // ... and again.
        expect((await pipe.next()).length).toBe(0);
      } finally {
        pipe.close();
      }
    });

    it('returns a PAX header alone, without its data, when its size exceeds maxPaxHeaderSize', async () => {
      const records = paxData({ path: 'q'.repeat(300) });
      const pax = entry({ name: 'PaxHeaders/f', type: 'x' }, records);
      const file = header({ name: 'f' });
      const seqs = await sequences(Buffer.concat([pax, file]), { maxPaxHeaderSize: records.length - 1 });
      expect(seqs[0]!.length).toBe(BLOCK);
      expect(seqs[0]!.equals(pax.subarray(0, BLOCK))).toBe(true);
      // At the limit exactly it is framed with its data.
      const atLimit = await sequences(Buffer.concat([pax, file]), { maxPaxHeaderSize: records.length });
      expect(atLimit[0]!.length).toBe(pax.length + BLOCK);
    });

    it('returns a GNU long name alone when it exceeds maxLongNameSize', async () => {
      const l = entry({ name: '././@LongLink', type: 'L' }, Buffer.from(`${'l'.repeat(200)}\0`));
      const seqs = await sequences(Buffer.concat([l, header({ name: 'f' })]), { maxLongNameSize: 100 });
      expect(seqs[0]!.equals(l.subarray(0, BLOCK))).toBe(true);
    });

    it('returns what there is when the input ends inside a sequence', async () => {
      const records = paxData({ path: 'r'.repeat(900) });
      const pax = entry({ name: 'PaxHeaders/f', type: 'x' }, records);
      const cut = pax.subarray(0, 600);
      const seqs = await sequences(cut);
      expect(seqs.map((s) => s.length)).toEqual([600, 0]);
      expect(seqs[0]!.equals(cut)).toBe(true);
      const partialHeader = await sequences(header({ name: 'f' }).subarray(0, 300));
      expect(partialHeader.map((s) => s.length)).toEqual([300, 0]);
    });

    it('refuses a second request while one is pending', async () => {
      const pipe = new LayerPipe(options('none'));
      try {
        const first = pipe.next();
        await expect(pipe.next()).rejects.toThrow(/already pending/);
        await pipe.write(header({ name: 'f' }));
        pipe.end();
        expect((await first).length).toBe(BLOCK);
      } finally {
        pipe.close();
      }
    });
  });

  describe('file()', () => {
    async function withPipe<T>(input: Buffer, fn: (pipe: LayerPipe) => Promise<T>): Promise<T> {
      const pipe = new LayerPipe(options('none'));
      try {
        await feed(pipe, input, 4096);
        return await fn(pipe);
      } finally {
        pipe.close();
      }
    }

    const body = noise(1234, 4);
    const spec = (p: string, extra: Partial<Parameters<LayerPipe['file']>[0]> = {}): Parameters<LayerPipe['file']>[0] => ({
      path: p,
      size: body.length,
      pad: padTo(body.length) - body.length,
      chown: false,
      uid: 0,
      gid: 0,
      mode: 0o4755,
      mtime: 1700000000.5,
      ...extra,
    });

    it('creates the file with its body, mode (setuid included) and nanosecond times, and returns the next sequence', async () => {
      const next = entry({ name: 'next', type: '5' });
      const input = Buffer.concat([entry({ name: 'f', size: body.length }, body), next, endOfArchive()]);
      const p = path.join(dir, 'f');
      await withPipe(input, async (pipe) => {
        const first = await pipe.next();
        expect(first.equals(input.subarray(0, BLOCK))).toBe(true);
        const seq = await pipe.file(spec(p, { chown: true, uid: process.getuid!(), gid: process.getgid!() }));
        expect(seq.equals(next)).toBe(true);
        expect((await pipe.next()).every((b) => b === 0)).toBe(true);
      });
      // stat before reading the body: reading may update atime.
      const st = fs.statSync(p, { bigint: true });
      expect(Number(st.mode) & 0o7777).toBe(0o4755);
      expect(st.mtimeNs).toBe(1700000000500000000n);
      expect(st.atimeNs).toBe(1700000000500000000n);
      expect(fs.statSync(p).mtimeMs).toBe(1700000000500);
      expect(Number(st.uid)).toBe(process.getuid!());
      expect(fs.readFileSync(p).equals(body)).toBe(true);
    });

    it('rounds fractional mtimes to nanoseconds, also before 1970', async () => {
      const input = Buffer.concat([Buffer.from('ab'), Buffer.from('cd')]);
      const p1 = path.join(dir, 'one');
      const p2 = path.join(dir, 'two');
      await withPipe(input, async (pipe) => {
        expect((await pipe.file({ ...spec(p1), size: 2, pad: 0, mode: 0o600, mtime: 1.999999999 })).length).toBe(2);
        expect((await pipe.file({ ...spec(p2), size: 0, pad: 0, mode: 0o600, mtime: -1.25 })).length).toBe(0);
      });
      expect(fs.readFileSync(p1, 'latin1')).toBe('ab');
      expect(fs.statSync(p1, { bigint: true }).mtimeNs).toBe(1999999999n);
      expect(fs.statSync(p2, { bigint: true }).mtimeNs).toBe(-1250000000n);
      expect(fs.statSync(p2).size).toBe(0);
    });

    it('fails with AlreadyExists on an existing path and leaves the file untouched', async () => {
      const p = path.join(dir, 'exists');
      fs.writeFileSync(p, 'keep me', { mode: 0o600 });
      const before = fs.statSync(p, { bigint: true });
      const err = await withPipe(entry({ name: 'x' }, body), async (pipe) => {
        await pipe.next();
        return rejection(pipe.file(spec(p)));
      });
      expect(isAlreadyExists(err)).toBe(true);
      expect((err as PodkitError).details).toMatchObject({ syscall: 'open', errno: 'EEXIST' });
      expect((err as Error).message).toContain(p);
      expect(fs.readFileSync(p, 'utf8')).toBe('keep me');
      const after = fs.statSync(p, { bigint: true });
      expect(after.mode).toBe(before.mode);
      expect(after.mtimeNs).toBe(before.mtimeNs);
    });

    it('does not follow a symlink at the path (O_CREAT|O_EXCL reports EEXIST) and leaves its target untouched', async () => {
      const target = path.join(dir, 'target');
      fs.writeFileSync(target, 'target body', { mode: 0o644 });
      const link = path.join(dir, 'link');
      fs.symlinkSync(target, link);
      const dangling = path.join(dir, 'dangling');
      const missing = path.join(dir, 'missing-target');
      fs.symlinkSync(missing, dangling);
      for (const p of [link, dangling]) {
        const err = await withPipe(body, (pipe) => rejection(pipe.file(spec(p))));
        expect(isAlreadyExists(err)).toBe(true);
        expect((err as PodkitError).details).toMatchObject({ syscall: 'open' });
        expect(['EEXIST', 'ELOOP']).toContain((err as PodkitError).details?.errno);
        expect(fs.lstatSync(p).isSymbolicLink()).toBe(true);
      }
      expect(fs.readFileSync(target, 'utf8')).toBe('target body');
      expect(fs.statSync(target).mode & 0o7777).toBe(0o644);
      expect(fs.existsSync(missing)).toBe(false);
    });

    it('a failed file() fails the pipe: later requests get the same error', async () => {
      const p = path.join(dir, 'exists');
      fs.writeFileSync(p, 'x');
      await withPipe(Buffer.concat([body, endOfArchive()]), async (pipe) => {
        const first = await rejection(pipe.file(spec(p)));
        const second = await rejection(pipe.next());
        expect(isAlreadyExists(first)).toBe(true);
        expect(isAlreadyExists(second)).toBe(true);
      });
    });

    it('throws LayerPipeTruncated with got/want when the input ends inside the body', async () => {
      const p = path.join(dir, 'short');
      const err = await withPipe(Buffer.concat([header({ name: 'short', size: 10000 }), noise(3000, 6)]), async (pipe) => {
        await pipe.next();
        return rejection(pipe.file({ ...spec(p), size: 10000, pad: padTo(10000) - 10000 }));
      });
      expect(err).toBeInstanceOf(LayerPipeTruncated);
      expect(err).toMatchObject({ part: 'body', got: 3000, want: 10000 });
      expect((err as Error).message).toBe('truncated body: 3000 of 10000 bytes');
    });

    it('throws LayerPipeTruncated for the padding when the input ends inside it', async () => {
      const p = path.join(dir, 'pad');
      const input = Buffer.concat([Buffer.alloc(100, 7), Buffer.alloc(50)]);
      const err = await withPipe(input, (pipe) => rejection(pipe.file({ ...spec(p), size: 100, pad: 412, mode: 0o644 })));
      expect(err).toBeInstanceOf(LayerPipeTruncated);
      expect(err).toMatchObject({ part: 'padding', got: 50, want: 412 });
      // The body was complete: the file is there, with its mode and body.
      expect(fs.readFileSync(p).equals(Buffer.alloc(100, 7))).toBe(true);
    });

    it('validates uid, gid and mtime before calling native code (a rejected promise, not a throw)', async () => {
      const pipe = new LayerPipe(options('none'));
      try {
        await expect(pipe.file(spec(path.join(dir, 'v'), { uid: -1 }))).rejects.toThrow(/uid/);
        await expect(pipe.file(spec(path.join(dir, 'v'), { gid: 2 ** 32 }))).rejects.toThrow(/gid/);
        await expect(pipe.file(spec(path.join(dir, 'v'), { mtime: Number.NaN }))).rejects.toThrow(/mtime/);
        expect(fs.existsSync(path.join(dir, 'v'))).toBe(false);
      } finally {
        pipe.close();
      }
    });
  });

  describe('read() and skip()', () => {
    const data = noise(3 * MiB + 100, 11);

    it.each(['none', 'gzip'] as const)('read(n) returns exactly n bytes, fewer at the end (%s)', async (compression) => {
      const pipe = new LayerPipe(options(compression));
      try {
        const fed = feed(pipe, compression === 'gzip' ? zlib.gzipSync(data) : data, 65536);
        expect((await pipe.read(0)).length).toBe(0);
        const a = await pipe.read(100);
        expect(a.equals(data.subarray(0, 100))).toBe(true);
        // Larger than the 1 MiB inflate buffer.
        const b = await pipe.read(2 * MiB);
        expect(b.equals(data.subarray(100, 100 + 2 * MiB))).toBe(true);
        const c = await pipe.read(2 * MiB);
        expect(c.length).toBe(data.length - 100 - 2 * MiB);
        expect(c.equals(data.subarray(100 + 2 * MiB))).toBe(true);
        expect((await pipe.read(10)).length).toBe(0);
        await fed;
      } finally {
        pipe.close();
      }
    });

    it('skip(n) returns the count skipped, fewer at the end', async () => {
      const pipe = new LayerPipe(options('none'));
      try {
        const fed = feed(pipe, data, 100000);
        expect(await pipe.skip(0)).toBe(0);
        expect(await pipe.skip(1)).toBe(1);
        expect(await pipe.skip(MiB + 5)).toBe(MiB + 5);
        expect((await pipe.read(4)).equals(data.subarray(MiB + 6, MiB + 10))).toBe(true);
        expect(await pipe.skip(10 * MiB)).toBe(data.length - MiB - 10);
        expect(await pipe.skip(10)).toBe(0);
        await fed;
        expect(await pipe.finish()).toMatchObject({ compressedSize: data.length, size: data.length, diffId: sha256(data) });
      } finally {
        pipe.close();
      }
    });

    it('rejects counts that are not byte counts', async () => {
      const pipe = new LayerPipe(options('none'));
      try {
        await expect(pipe.read(-1)).rejects.toThrow(/n: must be a byte count/);
        await expect(pipe.read(16 * MiB + 1)).rejects.toThrow(/n: must be a byte count up to 16777216/);
        await expect(pipe.skip(Number.NaN)).rejects.toThrow(/count out of range/);
      } finally {
        pipe.close();
      }
    });
  });

  it('backpressure: write() waits once several MiB are queued, and reading releases it', async () => {
    const data = noise(12 * MiB, 21);
    const pipe = new LayerPipe(options('none'));
    try {
      let pendingAt = -1;
      let pendingWrite: Promise<void> | undefined;
      for (let i = 0; i < 12; i++) {
        const w = pipe.write(data.subarray(i * MiB, (i + 1) * MiB));
        if ((await stateAfter(w, 100)) === 'pending') {
          pendingAt = i;
          pendingWrite = w;
          break;
        }
      }
      // The high-water mark is the addon's (a few MiB): the first writes go through at once, a later one waits.
      expect(pendingAt).toBeGreaterThanOrEqual(1);
      expect(pendingWrite).toBeDefined();
      // Still waiting a while later: nothing reads.
      expect(await stateAfter(pendingWrite!, 100)).toBe('pending');
      const skipped = pipe.skip(12 * MiB);
      expect(await stateAfter(pendingWrite!, 5000)).toBe('settled');
      for (let i = pendingAt + 1; i < 12; i++) await pipe.write(data.subarray(i * MiB, (i + 1) * MiB));
      pipe.end();
      expect(await skipped).toBe(12 * MiB);
      expect(await pipe.finish()).toEqual({ compressedDigest: sha256(data), compressedSize: data.length, diffId: sha256(data), size: data.length });
    } finally {
      pipe.close();
    }
  });

  it('refuses a second write while one waits for room, instead of losing its promise', async () => {
    const pipe = new LayerPipe(options('none'));
    try {
      const { write: waiting } = await writeUntilWaiting(pipe, (i) => Buffer.alloc(MiB, i));
      await expect(pipe.write(Buffer.alloc(10))).rejects.toThrow(/previous write still waits for room/);
      const skipped = pipe.skip(64 * MiB);
      expect(await stateAfter(waiting, 5000)).toBe('settled');
      pipe.end();
      expect(await skipped).toBeGreaterThan(2 * MiB);
    } finally {
      pipe.close();
    }
  });

  it('releases a write waiting for room when the pipe fails, and drops later input', async () => {
    const pipe = new LayerPipe(options('gzip'));
    try {
      const { write: waiting } = await writeUntilWaiting(pipe, () => Buffer.alloc(MiB, 0x41)); // not gzip
      const err = await rejection(pipe.next());
      expect((err as { code?: string }).code).toBe('Z_DATA_ERROR');
      expect(await stateAfter(waiting, 2000)).toBe('settled');
      await pipe.write(Buffer.alloc(MiB, 0x41)); // accepted and dropped: the failure is already told
      expect((await rejection(pipe.finish()) as { code?: string }).code).toBe('Z_DATA_ERROR');
    } finally {
      pipe.close();
    }
  });

  describe('abort()', () => {
    it('a pending next() rejects with exactly the abort reason, and so do later requests', async () => {
      const pipe = new LayerPipe(options('gzip'));
      try {
        const reason = new Error('registry connection reset');
        const pending = rejection(pipe.next());
        expect(await stateAfter(pending, 50)).toBe('pending');
        pipe.abort(reason);
        expect(await pending).toBe(reason);
        expect(await rejection(pipe.finish())).toBe(reason);
        // The first reason wins.
        pipe.abort(new Error('second'));
        expect(await rejection(pipe.next())).toBe(reason);
      } finally {
        pipe.close();
      }
    });

    it('input already written is still served before the abort takes effect', async () => {
      const pipe = new LayerPipe(options('none'));
      try {
        const h = header({ name: 'f', size: 2000 });
        await pipe.write(Buffer.concat([h, Buffer.alloc(100, 1)]));
        const reason = { not: 'an Error' };
        pipe.abort(reason);
        expect((await pipe.next()).equals(h)).toBe(true);
        expect(await rejection(pipe.read(2000))).toBe(reason);
      } finally {
        pipe.close();
      }
    });
  });

  describe('close()', () => {
    it('rejects a pending request, is idempotent, and makes later requests FailedPrecondition', async () => {
      const pipe = new LayerPipe(options('gzip'));
      const pending = rejection(pipe.next());
      expect(await stateAfter(pending, 50)).toBe('pending');
      pipe.close();
      const err = await pending;
      // The native Error comes from the addon's realm, not jest's: check its shape.
      expect((err as Error).message).toMatch(/closed/);
      expect((err as { code?: string }).code === 'closed' || isFailedPrecondition(err)).toBe(true);
      expect(() => pipe.close()).not.toThrow();
      expect(() => pipe.end()).not.toThrow();
      expect(() => pipe.abort(new Error('late'))).not.toThrow();
      for (const p of [pipe.next(), pipe.read(1), pipe.skip(1), pipe.finish(), pipe.write(Buffer.from('x')), pipe.file({ path: path.join(dir, 'f'), size: 0, pad: 0, chown: false, uid: 0, gid: 0, mode: 0o644, mtime: 0 })]) {
        expect(isFailedPrecondition(await rejection(p))).toBe(true);
      }
      expect(fs.existsSync(path.join(dir, 'f'))).toBe(false);
    });

    it('releases a write waiting for room', async () => {
      const pipe = new LayerPipe(options('none'));
      const { write: waiting } = await writeUntilWaiting(pipe, (i) => Buffer.alloc(MiB, i));
      pipe.close();
      expect(await stateAfter(waiting, 2000)).toBe('settled');
    });

    it('close() before any request, and with the input half consumed', async () => {
      const a = new LayerPipe(options('gzip'));
      a.close();
      const b = new LayerPipe(options('none'));
      // A write this large may wait for room; the read makes some, close() releases the rest.
      const written = b.write(noise(3 * MiB, 2));
      expect((await b.read(10)).length).toBe(10);
      b.close();
      b.close();
      expect(await stateAfter(written, 2000)).toBe('settled');
    });

    it('a process whose pipe had a pending request exits normally after close()', () => {
      const addon = path.join(nativeDirs().find((d) => fs.existsSync(path.join(d, 'podkit_native.node')))!, 'podkit_native.node');
      const script = `
        const { LayerPipe } = require(${JSON.stringify(addon)});
        const idle = new LayerPipe({ gzip: true, maxPax: 1024, maxLongName: 1024 }); // never used, never closed
        const p = new LayerPipe({ gzip: true, maxPax: 1024, maxLongName: 1024 });
        p.next().then(() => console.log('resolved'), (e) => console.log('rejected ' + e.code));
        setTimeout(() => p.close(), 50);
      `;
      const out = execFileSync(process.execPath, ['-e', script], { timeout: 15000, encoding: 'utf8' });
      expect(out.trim()).toBe('rejected closed');
    });
  });

  describe('ingest', () => {
    const t = smallTar(8);
    const blob = zlib.gzipSync(Buffer.concat([t.tar.subarray(0, t.tar.length - 3000 - 2 * BLOCK), entry({ name: 'more' }, noise(40000, 3)), endOfArchive()]));

    async function ingest(keep: number, prefill: Buffer, piece: number): Promise<{ file: Buffer; digests: LayerPipeDigests }> {
      const file = path.join(dir, `ingest-${keep}-${piece}`);
      fs.writeFileSync(file, prefill);
      const fd = fs.openSync(file, 'r+');
      try {
        const out = subdir(`out-${keep}-${piece}`);
        const { consumed, digests } = await unpack(blob, 'gzip', piece, out, { ingest: { fd, keep } });
        expect(consumed.endMarker).toBe(true);
        return { file: fs.readFileSync(file), digests };
      } finally {
        fs.closeSync(fd);
      }
    }

    it.each([
      [0, 4096],
      [5000, 4096],
      [4096, 4096],
      [1, 1],
      [300, 100000],
    ])('keep %i (writes of %i bytes): the file ends up holding the whole blob', async (keep, piece) => {
      expect(blob.length).toBeGreaterThan(keep + 1000);
      const { file, digests } = await ingest(keep, blob.subarray(0, keep), piece);
      expect(file.length).toBe(blob.length);
      expect(file.equals(blob)).toBe(true);
      expect(digests.compressedDigest).toBe(sha256(blob));
      expect(digests.compressedSize).toBe(blob.length);
    });

    it('the first `keep` bytes are hashed, not rewritten', async () => {
      const keep = 5000;
      const marker = Buffer.alloc(keep, 0xee);
      const { file, digests } = await ingest(keep, marker, 4096);
      expect(file.length).toBe(blob.length);
      expect(file.subarray(0, keep).equals(marker)).toBe(true);
      expect(file.subarray(keep).equals(blob.subarray(keep))).toBe(true);
      expect(digests.compressedDigest).toBe(sha256(blob));
    });

    it('rejects a bad descriptor or keep before reaching native code', () => {
      expect(() => new LayerPipe(options('gzip', { ingest: { fd: -1, keep: 0 } }))).toThrow(/ingest\.fd/);
      expect(() => new LayerPipe(options('gzip', { ingest: { fd: 0, keep: -5 } }))).toThrow(/ingest\.keep/);
    });
  });

  it('two pipes at the same time give correct, independent results', async () => {
    const t1 = bigTar(31);
    const t2 = smallTar(32);
    const gz1 = zlib.gzipSync(t1.tar);
    const out1 = subdir('one');
    const out2 = subdir('two');
    const [r1, r2] = await Promise.all([unpack(gz1, 'gzip', 4096, out1), unpack(t2.tar, 'none', 511, out2)]);
    expect(r1.digests).toEqual({ compressedDigest: sha256(gz1), compressedSize: gz1.length, diffId: sha256(t1.tar), size: t1.tar.length });
    expect(r2.digests).toEqual({ compressedDigest: sha256(t2.tar), compressedSize: t2.tar.length, diffId: sha256(t2.tar), size: t2.tar.length });
    expectFiles(out1, t1);
    expectFiles(out2, t2);
    expect(fs.existsSync(path.join(out2, 'dir', 'big.bin'))).toBe(false);
  });

  it('rejects an unknown compression', () => {
    expect(() => new LayerPipe(options('zstd' as 'gzip'))).toThrow(/compression/);
  });
});
