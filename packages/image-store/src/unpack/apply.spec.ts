import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { buildTar, TarWriteEntry } from '../tar/writer';
import { APPLY_VIAS, applyVia } from '../test-support/apply-via';
import { ApplyOptions } from './apply';

describe.each(APPLY_VIAS)('applyLayer through the %s', (via) => {
  let base: string;
  let root: string;
  let hostDir: string;
  let victim: string;
  const apply = (entries: TarWriteEntry[], opts: Partial<ApplyOptions> = {}) => applyVia(via, root, buildTar(entries), { target: 'flat', ...opts });

  beforeEach(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-apply-'));
    root = path.join(base, 'target');
    hostDir = path.join(base, 'host');
    fs.mkdirSync(root);
    fs.mkdirSync(hostDir, { mode: 0o750 });
    fs.chmodSync(hostDir, 0o750);
    victim = path.join(hostDir, 'victim');
    fs.writeFileSync(victim, 'original');
  });
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  function expectVictimUntouched(): void {
    expect(fs.readFileSync(victim, 'utf8')).toBe('original');
    expect(fs.lstatSync(victim).nlink).toBe(1);
    expect(fs.readdirSync(hostDir)).toEqual(['victim']);
    expect(fs.statSync(hostDir).mode & 0o7777).toBe(0o750);
  }

  it('writes files, directories, symlinks and hardlinks with modes and mtimes', async () => {
    const stats = await apply([
      { name: 'etc/', type: 'dir', mode: 0o755, mtime: 1000 },
      { name: 'etc/passwd', data: 'root:x:0:0\n', mode: 0o644, mtime: 2000 },
      { name: 'bin/', type: 'dir', mode: 0o755 },
      { name: 'bin/su', data: 'su', mode: 0o4755, mtime: 3000 },
      { name: 'bin/sg', data: 'sg', mode: 0o2755 },
      { name: 'tmp/', type: 'dir', mode: 0o1777, mtime: 4000 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox', mtime: 5000 },
      { name: 'bin/passwd-hard', type: 'hardlink', linkname: 'etc/passwd' },
    ]);
    expect(stats).toEqual({ entries: 8, bytes: 15, whiteouts: 0 });
    expect(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8')).toBe('root:x:0:0\n');
    expect(fs.statSync(path.join(root, 'bin/su')).mode & 0o7777).toBe(0o4755);
    expect(fs.statSync(path.join(root, 'bin/sg')).mode & 0o7777).toBe(0o2755);
    expect(fs.statSync(path.join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(fs.statSync(path.join(root, 'tmp')).mtimeMs).toBe(4000_000);
    expect(fs.statSync(path.join(root, 'etc')).mtimeMs).toBe(1000_000);
    expect(fs.lstatSync(path.join(root, 'bin/sh')).mtimeMs).toBe(5000_000);
    expect(fs.readlinkSync(path.join(root, 'bin/sh'))).toBe('busybox');
    expect(fs.statSync(path.join(root, 'bin/passwd-hard')).ino).toBe(fs.statSync(path.join(root, 'etc/passwd')).ino);
  });

  it('applies whiteouts to lower layers only', async () => {
    await apply([
      { name: 'a/', type: 'dir' },
      { name: 'a/gone', data: 'x' },
      { name: 'a/kept', data: 'x' },
      { name: 'dir/', type: 'dir' },
      { name: 'dir/sub', data: 'x' },
    ]);
    await apply([
      { name: 'a/.wh.gone', data: '' },
      { name: 'a/new', data: 'n' },
      { name: 'a/.wh.new', data: '' },
      { name: '.wh.dir', data: '' },
    ]);
    expect(fs.readdirSync(path.join(root, 'a')).sort()).toEqual(['kept', 'new']);
    expect(fs.existsSync(path.join(root, 'dir'))).toBe(false);
  });

  it('empties an opaque directory of lower content but keeps entries of the same layer in any order', async () => {
    await apply([
      { name: 'o/', type: 'dir' },
      { name: 'o/lower', data: 'x' },
      { name: 'o/sub/', type: 'dir' },
      { name: 'o/sub/lower', data: 'x' },
      { name: 'o/sub/deep/', type: 'dir' },
      { name: 'o/sub/deep/lower', data: 'x' },
    ]);
    await apply([
      { name: 'o/', type: 'dir' },
      { name: 'o/before', data: 'b' },
      { name: 'o/sub/deep/new', data: 'n' },
      { name: 'o/.wh..wh..opq', data: '' },
      { name: 'o/after', data: 'a' },
    ]);
    const list = (p: string): string[] => fs.readdirSync(path.join(root, p)).sort();
    expect(list('o')).toEqual(['after', 'before', 'sub']);
    expect(list('o/sub')).toEqual(['deep']);
    expect(list('o/sub/deep')).toEqual(['new']);
  });

  it('replaces an entry of a lower layer whatever its type', async () => {
    await apply([{ name: 'x/', type: 'dir' }, { name: 'x/f', data: '1' }, { name: 'y', data: 'file' }]);
    await apply([{ name: 'x', data: 'now a file' }, { name: 'y/', type: 'dir' }, { name: 'y/z', data: 'z' }]);
    expect(fs.readFileSync(path.join(root, 'x'), 'utf8')).toBe('now a file');
    expect(fs.readFileSync(path.join(root, 'y/z'), 'utf8')).toBe('z');
  });

  it('replaces a name repeated within one layer in directories the layer created', async () => {
    await apply([
      { name: 'd/', type: 'dir' },
      { name: 'd/f', data: '1' },
      { name: 'd/f', data: '2' },
      { name: 'd/l', type: 'symlink', linkname: victim },
      { name: 'd/l', data: 'pwned' },
      { name: 'd/x/', type: 'dir' },
      { name: 'd/x/in', data: 'i' },
      { name: 'd/x', data: 'x' },
      { name: 'p/q/r', data: 'r1' },
      { name: 'p/q/r', type: 'symlink', linkname: 'f' },
      { name: 'e/', type: 'dir' },
      { name: 'e/a', data: 'a' },
      { name: 'e', type: 'symlink', linkname: hostDir },
      { name: 'e/victim', data: 'pwned' },
    ]);
    expect(fs.readFileSync(path.join(root, 'd/f'), 'utf8')).toBe('2');
    expect(fs.readFileSync(path.join(root, 'd/l'), 'utf8')).toBe('pwned');
    expect(fs.readFileSync(path.join(root, 'd/x'), 'utf8')).toBe('x');
    expect(fs.readlinkSync(path.join(root, 'p/q/r'))).toBe('f');
    // `e` became a symlink out: in a flat target it resolves inside the root.
    expect(fs.readlinkSync(path.join(root, 'e'))).toBe(hostDir);
    expect(fs.readFileSync(path.join(root, hostDir, 'victim'), 'utf8')).toBe('pwned');
    expectVictimUntouched();
  });

  it('follows a symlink parent of a lower layer inside the root (usrmerge) in a flat target', async () => {
    await apply([{ name: 'usr/bin/', type: 'dir' }, { name: 'bin', type: 'symlink', linkname: 'usr/bin' }]);
    await apply([{ name: 'bin/tool', data: 't' }]);
    expect(fs.readFileSync(path.join(root, 'usr/bin/tool'), 'utf8')).toBe('t');
  });

  describe('hostile layers: nothing is written outside the target', () => {
    it("refuses '..' in an entry name", async () => {
      const err = await apply([{ name: '../host/victim', data: 'pwned' }]).catch((e: unknown) => e);
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toMatch(/"\.\.\/host\/victim": path contains '\.\.'/);
      expectVictimUntouched();
      const err2 = await apply([{ name: 'a/../../host/victim', data: 'pwned' }]).catch((e: unknown) => e);
      expect(isInvalidArgument(err2)).toBe(true);
      expectVictimUntouched();
    });

    it('neutralises an absolute path into the target', async () => {
      await apply([{ name: victim, data: 'pwned' }]);
      expectVictimUntouched();
      expect(fs.readFileSync(path.join(root, victim), 'utf8')).toBe('pwned');
    });

    it('resolves a symlink used as a parent inside the root (flat), absolute or relative', async () => {
      await apply([
        { name: 'abs', type: 'symlink', linkname: hostDir },
        { name: 'abs/victim', data: 'pwned' },
        { name: 'rel', type: 'symlink', linkname: '../../../../../../host' },
        { name: 'rel/victim', data: 'pwned too' },
      ]);
      expectVictimUntouched();
      expect(fs.readFileSync(path.join(root, hostDir, 'victim'), 'utf8')).toBe('pwned');
      expect(fs.readFileSync(path.join(root, 'host', 'victim'), 'utf8')).toBe('pwned too');
    });

    it('refuses a symlink used as a parent in an overlay layer directory', async () => {
      const err = await apply([{ name: 'abs', type: 'symlink', linkname: hostDir }, { name: 'abs/victim', data: 'pwned' }], { target: 'overlay' }).catch((e: unknown) => e);
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toMatch(/parent abs is a symlink: refused/);
      expectVictimUntouched();
    });

    it('refuses a hardlink to a path outside the layer', async () => {
      for (const linkname of ['../host/victim', victim, 'via/victim']) {
        const err = await apply([{ name: 'via', type: 'symlink', linkname: hostDir }, { name: 'h', type: 'hardlink', linkname }]).catch((e: unknown) => e);
        expect(isInvalidArgument(err)).toBe(true);
        expect((err as Error).message).toMatch(/"h"|h -> /);
        expectVictimUntouched();
        fs.rmSync(root, { recursive: true });
        fs.mkdirSync(root);
      }
    });

    it('never writes through a symlink that points out: the entry replaces the link', async () => {
      await apply([
        { name: 'out', type: 'symlink', linkname: victim },
        { name: 'out', data: 'pwned' },
        { name: 'outdir', type: 'symlink', linkname: hostDir },
        { name: 'outdir/', type: 'dir', mode: 0o777 },
        { name: 'outdir/victim', data: 'pwned' },
      ]);
      expectVictimUntouched();
      expect(fs.lstatSync(path.join(root, 'out')).isFile()).toBe(true);
      expect(fs.lstatSync(path.join(root, 'outdir')).isDirectory()).toBe(true);
    });

    it('keeps a symlink pointing out as a link and never follows it later', async () => {
      await apply([{ name: 'link', type: 'symlink', linkname: victim }]);
      await apply([{ name: 'link', type: 'symlink', linkname: victim, mode: 0o777, xattrs: { 'user.x': 'y' } }]);
      expect(fs.readlinkSync(path.join(root, 'link'))).toBe(victim);
      expectVictimUntouched();
    });

    it('does not chmod a directory that a later entry replaced with a symlink out', async () => {
      await apply([
        { name: 'd/', type: 'dir', mode: 0o777 },
        { name: 'd/e/', type: 'dir', mode: 0o777 },
        { name: 'd', type: 'symlink', linkname: base },
      ]);
      expectVictimUntouched();
      expect(fs.statSync(base).mode & 0o777).toBe(0o700);
    });

    it('applies whiteouts and opaque markers through a symlink parent inside the root only', async () => {
      await apply([{ name: 's', type: 'symlink', linkname: hostDir }]);
      await apply([{ name: 's/.wh.victim', data: '' }, { name: 's/.wh..wh..opq', data: '' }]);
      expectVictimUntouched();
    });

    it('refuses a whiteout of .. and a hardlink to the root', async () => {
      await expect(apply([{ name: 'x/.wh...', data: '' }])).rejects.toThrow(/whiteout of an invalid name/);
      await expect(apply([{ name: 'h', type: 'hardlink', linkname: './' }])).rejects.toThrow(/hardlink to the layer root/);
      expectVictimUntouched();
    });
  });
});
