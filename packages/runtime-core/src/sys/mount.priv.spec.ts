/** mount / unmount / mountAll against the kernel (needs root). Everything happens inside a temp dir. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mount, mountAll, unmount } from './mount';

const root = process.getuid?.() === 0;
const describeRoot = root ? describe : describe.skip;
if (!root) console.warn('mount.priv.spec: skipped, needs root');

function mountsUnder(dir: string): string[][] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[1]?.startsWith(dir));
}

describeRoot('sys mounts (privileged)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-mount-'));
  });
  afterEach(async () => {
    for (const m of mountsUnder(dir).reverse()) await unmount(m[1] as string, { detach: true }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mounts a tmpfs with flags and data, and unmounts it', async () => {
    const t = path.join(dir, 't');
    fs.mkdirSync(t);
    await mount({ source: 'tmpfs', target: t, fstype: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m', 'mode=700'] });
    const [m] = mountsUnder(t);
    expect(m?.[2]).toBe('tmpfs');
    expect(m?.[3]).toMatch(/nosuid,nodev/);
    expect(m?.[3]).toMatch(/size=1024k,mode=700/);
    await unmount(t);
    expect(mountsUnder(t)).toEqual([]);
    await expect(unmount(t)).rejects.toThrow(/umount2: EINVAL/);
  });

  it('makes read-only binds in two steps (bind, then remount)', async () => {
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    fs.mkdirSync(src);
    fs.mkdirSync(dst);
    fs.writeFileSync(path.join(src, 'f'), 'x');
    await mount({ source: src, target: dst, options: ['rbind', 'ro', 'rprivate'] });
    expect(fs.readFileSync(path.join(dst, 'f'), 'utf8')).toBe('x');
    expect(() => fs.writeFileSync(path.join(dst, 'g'), 'y')).toThrow(/EROFS/);
  });

  it('mountAll stacks descriptors at the target and rolls back on failure', async () => {
    const lower = path.join(dir, 'lower');
    const upper = path.join(dir, 'upper');
    const work = path.join(dir, 'work');
    const target = path.join(dir, 'rootfs');
    for (const d of [lower, upper, work, target]) fs.mkdirSync(d);
    fs.writeFileSync(path.join(lower, 'from-lower'), 'l');
    await mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`] }], target);
    expect(fs.readdirSync(target)).toEqual(['from-lower']);
    fs.writeFileSync(path.join(target, 'new'), 'n');
    expect(fs.existsSync(path.join(upper, 'new'))).toBe(true);
    await unmount(target);

    await expect(
      mountAll(
        [
          { type: 'tmpfs', source: 'tmpfs', options: [] },
          { type: 'nosuchfs', source: 'x', options: [] },
        ],
        target,
      ),
    ).rejects.toThrow(/mount: ENODEV/);
    expect(mountsUnder(target)).toEqual([]);
  });

  it('mountAll mounts an overlay of 130 layers (options longer than a page) through fsconfig', async () => {
    const target = path.join(dir, 'rootfs-many');
    fs.mkdirSync(target);
    const lowers: string[] = [];
    for (let i = 0; i < 130; i++) {
      const l = path.join(dir, `a-lower-layer-with-a-long-name-${String(i).padStart(4, '0')}`);
      fs.mkdirSync(l);
      fs.writeFileSync(path.join(l, `f${i}`), String(i));
      lowers.push(l);
    }
    await mountAll([{ type: 'overlay', source: 'overlay', options: ['ro', `lowerdir=${lowers.join(':')}`] }], target);
    try {
      expect(fs.readdirSync(target)).toHaveLength(130);
      expect(fs.readFileSync(path.join(target, 'f129'), 'utf8')).toBe('129');
    } finally {
      await unmount(target);
    }
  });
});
