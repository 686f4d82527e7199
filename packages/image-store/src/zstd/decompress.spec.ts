import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { isInvalidArgument } from '@podkit/errdefs';
import { findZstdProgram, zstdDecompress, zstdDecompressJs, zstdDecompressProgram } from './decompress';

const haveZstd = spawnSync('zstd', ['--version']).status === 0;
const suite = haveZstd ? describe : describe.skip;
if (!haveZstd) console.warn('zstd tests skipped: the zstd CLI (Debian package zstd, in tools/setup.sh) is missing');

function zstd(data: Buffer, args: string[] = []): Buffer {
  const r = spawnSync('zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Our child processes named zstd (from /proc/self/task/<tid>/children). */
function zstdChildren(): number[] {
  const pids = fs
    .readdirSync('/proc/self/task')
    .flatMap((t) => fs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  return pids.filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'zstd';
    } catch {
      return false;
    }
  });
}

async function* chunked(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

/** A zstd skippable frame (as zstd:chunked appends for its table of contents). */
function skippable(payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0x184d2a5e, 0);
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

suite('zstd decompression', () => {
  // Compressible but not trivial: text with random words, bigger than one zstd block (128 KiB).
  const plain = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `${i}:${crypto.randomBytes(6).toString('hex')}\n`).join(''));

  it.each([13, 4096, 1 << 20])('decodes a stream fed in chunks of %i bytes', async (size) => {
    const z = zstd(plain);
    expect((await collect(zstdDecompressJs(chunked(z, size)))).equals(plain)).toBe(true);
  });

  it('decodes a long-window frame and a checksummed one', async () => {
    for (const args of [['--long=27'], ['--check'], ['-19']]) {
      const z = zstd(plain, args);
      expect((await collect(zstdDecompress(chunked(z, 65536), { preferJs: true }))).equals(plain)).toBe(true);
    }
  });

  const program = findZstdProgram() as string;
  const decoders: Array<[string, (src: AsyncIterable<Buffer>) => AsyncIterable<Buffer>]> = [
    ['fzstd (pure JS)', (src) => zstdDecompressJs(src)],
    ['the zstd program', (src) => zstdDecompressProgram(src, program)],
  ];

  it('finds the zstd program on PATH, and PODKIT_ZSTD overrides it', () => {
    expect(program).toMatch(/\/zstd$/);
    expect(findZstdProgram({ PODKIT_ZSTD: 'js', PATH: process.env['PATH'] ?? '' })).toBeNull();
    expect(findZstdProgram({ PATH: '/nonexistent' })).toBeNull();
    expect(findZstdProgram({ PODKIT_ZSTD: program })).toBe(program);
  });

  it.each(decoders)('%s reads zstd:chunked-style input: several frames and skippable frames, as plain zstd', async (_name, decode) => {
    const a = plain.subarray(0, 500_000);
    const b = plain.subarray(500_000);
    const z = Buffer.concat([zstd(a), skippable(Buffer.from('{"toc":[]}')), zstd(b), skippable(Buffer.alloc(100, 1))]);
    expect((await collect(decode(chunked(z, 10_000)))).equals(plain)).toBe(true);
  });

  it.each(decoders)('%s fails with InvalidArgument on truncated input, garbage and empty input', async (_name, decode) => {
    const z = zstd(plain);
    for (const bad of [z.subarray(0, z.length - 50), Buffer.from('this is not zstd at all'), Buffer.alloc(0)]) {
      const err = await collect(decode(chunked(bad, 4096))).catch((e: unknown) => e);
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toMatch(/^zstd: ./);
    }
  });

  it('stops the zstd program when the reader stops early', async () => {
    const it = zstdDecompressProgram(chunked(zstd(plain), 65536), program);
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(zstdChildren()).toHaveLength(1);
    await it.return(undefined);
    expect(zstdChildren()).toEqual([]);
  });
});
