/**
 * The snapshotter's descriptors mounted for real (with mount(8), as a composer would): writes land in
 * the container's upper dir only, deletes become overlay whiteouts, layers stay untouched and shared.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OverlaySnapshotter } from './overlay';
import type { MountDescriptor } from './mount-descriptor';

const root = process.getuid?.() === 0;
const d = root ? describe : describe.skip;
if (!root) console.warn('overlay.priv.spec: skipped, needs root to mount overlayfs');

function mountAt(m: MountDescriptor, target: string): void {
  const opts = m.options.filter((o) => o !== 'rbind');
  if (m.type === 'bind') execFileSync('mount', ['--rbind', '-o', opts.join(','), m.source, target]);
  else execFileSync('mount', ['-t', m.type, '-o', opts.join(','), m.source, target]);
}

d('OverlaySnapshotter mounted (root)', () => {
  let dir: string;
  const mounted: string[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-snap-priv-'));
  });
  afterEach(() => {
    for (const t of mounted.splice(0).reverse()) execFileSync('umount', ['-l', t]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('two containers on shared layers see the layers and only their own writes', async () => {
    const s = await OverlaySnapshotter.open(path.join(dir, 'store'));
    await s.prepare('x1');
    fs.writeFileSync(path.join(await s.upperDir('x1'), 'shared.txt'), 'layer1');
    fs.mkdirSync(path.join(await s.upperDir('x1'), 'etc'));
    fs.writeFileSync(path.join(await s.upperDir('x1'), 'etc', 'gone'), 'bye');
    await s.commit('l1', 'x1');
    await s.prepare('x2', 'l1');
    fs.writeFileSync(path.join(await s.upperDir('x2'), 'second.txt'), 'layer2');
    await s.commit('l2', 'x2');

    const targets: string[] = [];
    for (const c of ['a0', 'a1']) {
      const [m] = await s.prepare(c, 'l2');
      const t = path.join(dir, c);
      fs.mkdirSync(t);
      mountAt(m!, t);
      mounted.push(t);
      targets.push(t);
    }
    const [t0, t1] = targets as [string, string];
    expect(fs.readFileSync(path.join(t0, 'shared.txt'), 'utf8')).toBe('layer1');
    expect(fs.readFileSync(path.join(t1, 'second.txt'), 'utf8')).toBe('layer2');
    fs.writeFileSync(path.join(t0, 'mine'), 'a0');
    fs.rmSync(path.join(t0, 'etc', 'gone'));
    expect(fs.existsSync(path.join(t1, 'mine'))).toBe(false);
    expect(fs.existsSync(path.join(t1, 'etc', 'gone'))).toBe(true);
    const up0 = await s.upperDir('a0');
    expect(fs.readFileSync(path.join(up0, 'mine'), 'utf8')).toBe('a0');
    const wh = fs.lstatSync(path.join(up0, 'etc', 'gone'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(fs.readdirSync(await s.upperDir('a1'))).toEqual([]);

    // A read-only view of the image.
    const [v] = await s.view('v', 'l2');
    const tv = path.join(dir, 'v');
    fs.mkdirSync(tv);
    mountAt(v!, tv);
    mounted.push(tv);
    expect(fs.readdirSync(tv).sort()).toEqual(['etc', 'second.txt', 'shared.txt']);
    expect(() => fs.writeFileSync(path.join(tv, 'x'), 'x')).toThrow(/EROFS|read-only/);
  });
});
