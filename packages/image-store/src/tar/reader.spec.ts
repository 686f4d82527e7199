import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { APPLY_VIAS, ApplyVia, readTarVia } from '../test-support/apply-via';
import { readTar } from './reader';
import { TarHeader } from './types';
import { buildTar, TarWriteEntry } from './writer';

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** How readAll reads: set by each run of the suite below. */
let via: ApplyVia = 'javascript stream';

async function readAll(buf: Buffer, chunk = 4096, limits = {}): Promise<Array<{ h: TarHeader; data: Buffer }>> {
  const out: Array<{ h: TarHeader; data: Buffer }> = [];
  for await (const e of readTarVia(via, buf, chunk, limits)) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(Buffer.from(c));
    out.push({ h: e.header, data: Buffer.concat(parts) });
  }
  return out;
}

async function failure(buf: Buffer, limits = {}): Promise<Error> {
  const err = await readAll(buf, 4096, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isInvalidArgument(err)).toBe(true);
  return err as Error;
}

const sample: TarWriteEntry[] = [
  { name: 'dir/', type: 'dir', mode: 0o1755, uid: 1, gid: 2, mtime: 1000 },
  { name: 'dir/file', data: 'hello world', mode: 0o4755, uid: 1000, gid: 1000, mtime: 1700000000, uname: 'u', gname: 'g' },
  { name: 'dir/link', type: 'symlink', linkname: '../etc/passwd' },
  { name: 'dir/hard', type: 'hardlink', linkname: 'dir/file' },
  { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
  { name: 'dev/loop0', type: 'block', mode: 0o660, devmajor: 7, devminor: 0 },
  { name: 'run/fifo', type: 'fifo', mode: 0o600 },
];

describe.each(APPLY_VIAS)('readTar over the %s', (how) => {
  beforeAll(() => {
    via = how;
  });
  it.each([1, 7, 512, 65536])('round-trips ustar entries of every type (input chunks of %d bytes)', async (chunk) => {
    const got = await readAll(buildTar(sample), chunk);
    expect(got.map((g) => [g.h.name, g.h.type])).toEqual(sample.map((s) => [s.name, s.type ?? 'file']));
    const file = got[1]!;
    expect(file.data.toString()).toBe('hello world');
    expect(file.h).toMatchObject({ mode: 0o4755, uid: 1000, gid: 1000, mtime: 1700000000, uname: 'u', gname: 'g', size: 11 });
    expect(got[0]!.h.mode).toBe(0o1755);
    expect(got[2]!.h.linkname).toBe('../etc/passwd');
    expect(got[3]!.h.linkname).toBe('dir/file');
    expect(got[4]!.h).toMatchObject({ devmajor: 1, devminor: 3 });
  });

  it('reads PAX long names, long link targets, binary xattrs, big ids and fractional mtimes', async () => {
    const long = `${'a'.repeat(120)}/${'b'.repeat(150)}`;
    const cap = Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x3d, 0, 0]);
    const got = await readAll(
      buildTar([
        { name: long, data: 'x', uid: 3_000_000, gid: 70_000_000, mtime: 1.5, xattrs: { 'security.capability': cap, 'user.k': 'v=1\n' } },
        { name: 'l', type: 'symlink', linkname: long },
      ]),
      100,
    );
    expect(got[0]!.h.name).toBe(long);
    expect(got[0]!.h.uid).toBe(3_000_000);
    expect(got[0]!.h.gid).toBe(70_000_000);
    expect(got[0]!.h.mtime).toBeCloseTo(1.5);
    expect(got[0]!.h.xattrs.get('security.capability')).toEqual(cap);
    expect(got[0]!.h.xattrs.get('user.k')!.toString()).toBe('v=1\n');
    expect(got[1]!.h.linkname).toBe(long);
    expect(got[1]!.h.xattrs.size).toBe(0);
  });

  it('reads GNU long names and long links', async () => {
    const long = 'c'.repeat(300);
    const got = await readAll(buildTar([{ name: long, data: 'z' }, { name: 's', type: 'symlink', linkname: long }], { gnuLongNames: true }));
    expect(got.map((g) => g.h.name)).toEqual([long, 's']);
    expect(got[1]!.h.linkname).toBe(long);
  });

  it('reads the ustar prefix field and GNU base-256 numbers', async () => {
    const tar = buildTar([{ name: 'x', data: '' }]);
    const h = tar.subarray(0, 512);
    h.write('some/prefix', 345, 'latin1');
    // uid 2^40 in base-256
    h.fill(0, 108, 116);
    h[108] = 0x80;
    h.writeUIntBE(2 ** 40, 110, 6);
    let sum = 0;
    h.write('        ', 148, 'latin1');
    for (let i = 0; i < 512; i++) sum += h[i]!;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const got = await readAll(tar);
    expect(got[0]!.h.name).toBe('some/prefix/x');
    expect(got[0]!.h.uid).toBe(2 ** 40);
  });

  it('skips bodies the consumer does not read', async () => {
    const tar = buildTar([{ name: 'a', data: Buffer.alloc(5000, 1) }, { name: 'b', data: 'second' }]);
    const names: string[] = [];
    let second = '';
    for await (const e of readTar(chunks(tar, 333))) {
      names.push(e.header.name);
      if (e.header.name === 'b') for await (const c of e.body) second += c.toString();
    }
    expect(names).toEqual(['a', 'b']);
    expect(second).toBe('second');
  });

  it('reads an archive written by GNU tar with xattrs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-tar-'));
    try {
      fs.mkdirSync(path.join(dir, 'src', 'deep'.repeat(30)), { recursive: true });
      fs.writeFileSync(path.join(dir, 'src', 'deep'.repeat(30), 'f'), 'content');
      fs.symlinkSync('deep', path.join(dir, 'src', 'sl'));
      const out = path.join(dir, 'a.tar');
      execFileSync('tar', ['--format=posix', '--numeric-owner', '-cf', out, '-C', path.join(dir, 'src'), '.']);
      const got = await readAll(fs.readFileSync(out), 1000);
      const byName = new Map(got.map((g) => [g.h.name.replace(/^\.\//, ''), g]));
      expect(byName.get(`${'deep'.repeat(30)}/f`)?.data.toString()).toBe('content');
      expect(byName.get('sl')?.h).toMatchObject({ type: 'symlink', linkname: 'deep' });
      const gnuOut = path.join(dir, 'g.tar');
      execFileSync('tar', ['--format=gnu', '-cf', gnuOut, '-C', path.join(dir, 'src'), '.']);
      const gnu = await readAll(fs.readFileSync(gnuOut));
      expect(gnu.map((g) => g.h.name.replace(/^\.\//, ''))).toContain(`${'deep'.repeat(30)}/f`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('rejects bad input with a clear error', () => {
    it('a truncated header', async () => {
      const tar = buildTar([{ name: 'a', data: 'x' }]);
      expect((await failure(tar.subarray(0, 300))).message).toMatch(/truncated header/);
    });
    it('a truncated body', async () => {
      const tar = buildTar([{ name: 'a', data: Buffer.alloc(2000) }]);
      expect((await failure(tar.subarray(0, 1024))).message).toMatch(/truncated body of "a"/);
    });
    it('a corrupt checksum', async () => {
      const tar = buildTar([{ name: 'a', data: 'x' }]);
      tar[0] = 0x62;
      expect((await failure(tar)).message).toMatch(/checksum mismatch.*at byte 0/);
    });
    it('random bytes', async () => {
      expect((await failure(Buffer.alloc(4096, 0x41))).message).toMatch(/checksum/);
    });
    it('an empty stream', async () => {
      expect((await failure(Buffer.alloc(0))).message).toMatch(/empty archive/);
    });
    it('too many entries', async () => {
      const tar = buildTar(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: '' })));
      expect((await failure(tar, { maxEntries: 3 })).message).toMatch(/more than 3 entries/);
    });
    it('an oversized PAX header', async () => {
      const tar = buildTar([{ name: 'f', data: '', xattrs: { 'user.big': Buffer.alloc(5000) } }]);
      expect((await failure(tar, { maxPaxHeaderSize: 4096 })).message).toMatch(/PAX header of \d+ bytes exceeds the limit of 4096/);
    });
    it('an oversized GNU long name', async () => {
      const tar = buildTar([{ name: 'n'.repeat(3000), data: '' }], { gnuLongNames: true });
      expect((await failure(tar, { maxLongNameSize: 1024 })).message).toMatch(/GNU long name of 3001 bytes/);
    });
    it('a malformed PAX record', async () => {
      const tar = buildTar([{ name: 'f'.repeat(150), data: '' }]);
      // Break the record length of the PAX data block (second block).
      tar.write('99', 512, 'latin1');
      expect((await failure(tar)).message).toMatch(/PAX record/);
    });
    it('unsupported entry types', async () => {
      const tar = buildTar([{ name: 'f', data: '' }]);
      tar[156] = 'S'.charCodeAt(0);
      let sum = 0;
      tar.write('        ', 148, 'latin1');
      for (let i = 0; i < 512; i++) sum += tar[i]!;
      tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      expect((await failure(tar)).message).toMatch(/unsupported entry type 'S' \(GNU sparse file\)/);
    });
  });
});
