import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getXattr } from '@podkit/runtime-core/sys';
import { buildTar, TarWriteEntry } from '../tar/writer';
import { APPLY_VIAS, applyVia } from '../test-support/apply-via';
import { ApplyOptions } from './apply';

// Owners, device nodes, trusted.* and security.* attributes need root (CAP_CHOWN, CAP_MKNOD, CAP_SYS_ADMIN).
const describeRoot = process.getuid?.() === 0 ? describe : describe.skip;

describeRoot.each(APPLY_VIAS)('applyLayer (root) through the %s', (via) => {
  let root: string;
  const apply = (entries: TarWriteEntry[], opts: Partial<ApplyOptions> = {}) => applyVia(via, root, buildTar(entries), { target: 'flat', ...opts });
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-apply-priv-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('sets owners, device nodes, FIFOs and xattrs including security.capability', async () => {
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0);
    cap.writeUInt32LE(1 << 13, 4);
    await apply([
      { name: 'dev/', type: 'dir' },
      { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3, uid: 0, gid: 0 },
      { name: 'dev/loop9', type: 'block', mode: 0o660, devmajor: 7, devminor: 9, gid: 6 },
      { name: 'run/fifo', type: 'fifo', mode: 0o620, uid: 5, gid: 7 },
      { name: 'bin/ping', data: 'ping', mode: 0o4755, uid: 1000, gid: 1001, xattrs: { 'security.capability': cap, 'user.note': 'hi', 'trusted.overlay.redirect': '/etc' } },
      { name: 'home/u/', type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
      { name: 'home/u/link', type: 'symlink', linkname: 'x', uid: 1000, gid: 1000 },
    ]);
    const nul = fs.lstatSync(path.join(root, 'dev/null'));
    expect(nul.isCharacterDevice()).toBe(true);
    expect(nul.rdev).toBe(0x103);
    expect(nul.mode & 0o7777).toBe(0o666);
    expect(fs.lstatSync(path.join(root, 'dev/loop9')).isBlockDevice()).toBe(true);
    const fifo = fs.lstatSync(path.join(root, 'run/fifo'));
    expect(fifo.isFIFO()).toBe(true);
    expect([fifo.uid, fifo.gid, fifo.mode & 0o7777]).toEqual([5, 7, 0o620]);
    const ping = fs.lstatSync(path.join(root, 'bin/ping'));
    // chown clears setuid and capabilities: both must be applied after it.
    expect([ping.uid, ping.gid, ping.mode & 0o7777]).toEqual([1000, 1001, 0o4755]);
    expect(await getXattr(path.join(root, 'bin/ping'), 'security.capability')).toEqual(cap);
    expect((await getXattr(path.join(root, 'bin/ping'), 'user.note'))?.toString()).toBe('hi');
    expect(await getXattr(path.join(root, 'bin/ping'), 'trusted.overlay.redirect')).toBeUndefined();
    const home = fs.lstatSync(path.join(root, 'home/u'));
    expect([home.uid, home.mode & 0o7777]).toEqual([1000, 0o700]);
    expect(fs.lstatSync(path.join(root, 'home/u/link')).uid).toBe(1000);
  });

  it('writes overlay whiteouts as char 0/0 and opaque dirs as trusted.overlay.opaque=y', async () => {
    await apply(
      [
        { name: 'etc/', type: 'dir' },
        { name: 'etc/.wh.motd', data: '' },
        { name: 'var/.wh..wh..opq', data: '' },
        { name: 'var/', type: 'dir', mode: 0o755 },
        { name: 'var/new', data: 'n' },
        { name: '.wh.gone', data: '' },
      ],
      { target: 'overlay' },
    );
    const wh = fs.lstatSync(path.join(root, 'etc/motd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(fs.lstatSync(path.join(root, 'gone')).isCharacterDevice()).toBe(true);
    expect((await getXattr(path.join(root, 'var'), 'trusted.overlay.opaque'))?.toString()).toBe('y');
    expect(fs.readdirSync(path.join(root, 'var'))).toEqual(['new']);
    expect(fs.existsSync(path.join(root, 'etc/.wh.motd'))).toBe(false);
  });

  it('replaces an overlay whiteout by a later entry of the same name in the same layer', async () => {
    await apply(
      [
        { name: 'd/', type: 'dir' },
        { name: 'd/.wh.a', data: '' },
        { name: 'd/a', data: 'back' },
        { name: 'd/b', data: 'b' },
        { name: 'd/.wh.b', data: '' },
      ],
      { target: 'overlay' },
    );
    expect(fs.readFileSync(path.join(root, 'd/a'), 'utf8')).toBe('back');
    expect(fs.lstatSync(path.join(root, 'd/b')).isCharacterDevice()).toBe(true);
  });
});
