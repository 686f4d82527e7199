/**
 * An overlay of 130 layers: its option string is twice a page, so mount(2) cannot take it; fsconfig's
 * `lowerdir+` can. Every layer is visible, the top one wins, writes go to the upper dir.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountOverlayFs, overlayNeedsFsconfig } from './overlay';

const root = process.getuid?.() === 0;
const d = root ? describe : describe.skip;
if (!root) console.warn('overlay.priv.spec: skipped, needs root to mount');

d('mountOverlayFs (root)', () => {
  let dir: string;
  let target: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-ovl-many-layers-with-a-long-path-'));
    target = path.join(dir, 'merged');
    fs.mkdirSync(target);
  });
  afterEach(() => {
    try {
      execFileSync('umount', [target], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mounts 130 lower layers through fsconfig lowerdir+', async () => {
    const lowers: string[] = [];
    for (let i = 0; i < 130; i++) {
      const l = path.join(dir, `layer-number-${String(i).padStart(4, '0')}`);
      fs.mkdirSync(l);
      fs.writeFileSync(path.join(l, `only-in-${i}`), String(i));
      fs.writeFileSync(path.join(l, 'shared'), String(i));
      lowers.unshift(l); // nearest (topmost) first, as the snapshotter orders them
    }
    fs.mkdirSync(path.join(dir, 'upper'));
    fs.mkdirSync(path.join(dir, 'work'));
    const desc = {
      type: 'overlay',
      source: 'overlay',
      options: ['index=off', `workdir=${path.join(dir, 'work')}`, `upperdir=${path.join(dir, 'upper')}`, `lowerdir=${lowers.join(':')}`],
    };
    expect(overlayNeedsFsconfig(desc)).toBe(true);
    await mountOverlayFs(desc, target);
    expect(fs.readFileSync(path.join(target, 'only-in-0'), 'utf8')).toBe('0');
    expect(fs.readFileSync(path.join(target, 'only-in-129'), 'utf8')).toBe('129');
    expect(fs.readFileSync(path.join(target, 'shared'), 'utf8')).toBe('129');
    fs.writeFileSync(path.join(target, 'new'), 'x');
    expect(fs.readFileSync(path.join(dir, 'upper', 'new'), 'utf8')).toBe('x');
    expect(fs.readdirSync(target)).toHaveLength(132);
  });

  it('reports a bad lower dir as a typed error naming the mount', async () => {
    await expect(mountOverlayFs({ type: 'overlay', source: 'overlay', options: [`lowerdir=${path.join(dir, 'missing')}:${dir}`] }, target)).rejects.toMatchObject({
      code: 'NotFound',
      message: expect.stringMatching(/^mount overlay at .*: fsconfig: ENOENT/),
    });
  });
});
