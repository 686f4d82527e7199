import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getXattr, mknod, setXattr } from './fsnodes';

// Device nodes need CAP_MKNOD and trusted.* / security.* xattrs need CAP_SYS_ADMIN / CAP_SETFCAP.
const isRoot = process.getuid?.() === 0;
const describeRoot = isRoot ? describe : describe.skip;

describeRoot('fsnodes (root: device nodes, trusted and security xattrs)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-fsnodes-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes character devices, including the 0/0 overlay whiteout (needs root: CAP_MKNOD)', async () => {
    const p = path.join(dir, 'null');
    await mknod(p, { kind: 'char', mode: 0o666, major: 1, minor: 3 });
    const st = fs.lstatSync(p);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe((1 << 8) | 3);
    const wh = path.join(dir, 'wh');
    await mknod(wh, { kind: 'char', mode: 0, major: 0, minor: 0 });
    expect(fs.lstatSync(wh).rdev).toBe(0);
    const blk = path.join(dir, 'blk');
    await mknod(blk, { kind: 'block', mode: 0o600, major: 7, minor: 1 });
    expect(fs.lstatSync(blk).isBlockDevice()).toBe(true);
  });

  it('sets trusted.overlay.opaque and security.capability (needs root)', async () => {
    const d = path.join(dir, 'd');
    fs.mkdirSync(d);
    await setXattr(d, 'trusted.overlay.opaque', 'y');
    expect((await getXattr(d, 'trusted.overlay.opaque'))?.toString()).toBe('y');
    const f = path.join(dir, 'ping');
    fs.writeFileSync(f, 'x');
    // VFS_CAP_REVISION_2 with cap_net_raw (bit 13) permitted + effective.
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0);
    cap.writeUInt32LE(1 << 13, 4);
    await setXattr(f, 'security.capability', cap);
    expect(await getXattr(f, 'security.capability')).toEqual(cap);
  });
});
