/**
 * `@podkit/image-store/testing`: a snapshotter conformance suite, as containerd's
 * `core/snapshots/testsuite`. Any `Snapshotter` with an `upperDir(key)` (where a layer's files are
 * written before commit) runs it; the mounts it returns are mounted for real (root needed) with
 * runtime-core/sys `mountAll`, the way a composer mounts a bundle's rootfs.
 *
 * The suite takes the test framework's functions as an argument, so the package needs no test
 * framework at run time:  `snapshotterConformance({ describe, it, beforeEach, afterEach, expect }, 'overlay', open)`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mknod, mountAll, setXattr, unmount } from '@podkit/runtime-core/sys';
import type { Snapshotter } from '../snapshot/types';

export interface ConformanceSnapshotter extends Snapshotter {
  upperDir(key: string): Promise<string>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the test framework's own types are not a dependency */
export interface TestApi {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>, timeout?: number) => void;
  beforeEach: (fn: () => Promise<void> | void) => void;
  afterEach: (fn: () => Promise<void> | void) => void;
  expect: (v: unknown) => any;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export function snapshotterConformance(t: TestApi, name: string, open: (root: string) => Promise<ConformanceSnapshotter>): void {
  const { describe, it, beforeEach, afterEach, expect } = t;
  describe(`snapshotter conformance: ${name}`, () => {
    let dir: string;
    let s: ConformanceSnapshotter;
    let mounted: string[];
    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-snapsuite-'));
      s = await open(path.join(dir, 'store'));
      mounted = [];
    });
    afterEach(async () => {
      for (const m of mounted.reverse()) await unmount(m, { detach: true }).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Writes files into a new layer on `parent` and commits it as `name`. */
    async function layer(layerName: string, parent: string | undefined, build: (upper: string) => Promise<void>): Promise<void> {
      await s.prepare(`build-${layerName}`, parent);
      await build(await s.upperDir(`build-${layerName}`));
      await s.commit(layerName, `build-${layerName}`);
    }
    async function mountAt(key: string, parent: string | undefined, kind: 'prepare' | 'view' = 'prepare'): Promise<string> {
      const m = kind === 'prepare' ? await s.prepare(key, parent) : await s.view(key, parent);
      const target = path.join(dir, `mnt-${key}`);
      fs.mkdirSync(target);
      await mountAll(m, target);
      mounted.push(target);
      return target;
    }
    const write = (p: string, c: string): void => {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, c);
    };

    it('a file of a committed parent is visible through the mount of a child', async () => {
      await layer('base', undefined, async (u) => write(path.join(u, 'etc/hostname'), 'base'));
      const t = await mountAt('c1', 'base');
      expect(fs.readFileSync(path.join(t, 'etc/hostname'), 'utf8')).toBe('base');
    });

    it('whiteouts and opaque directories of upper layers are honoured in the merged view', async () => {
      await layer('l1', undefined, async (u) => {
        write(path.join(u, 'gone'), 'x');
        write(path.join(u, 'dir/old1'), 'x');
        write(path.join(u, 'dir/old2'), 'x');
        write(path.join(u, 'kept'), 'x');
      });
      await layer('l2', 'l1', async (u) => {
        await mknod(path.join(u, 'gone'), { kind: 'char', major: 0, minor: 0, mode: 0 });
        fs.mkdirSync(path.join(u, 'dir'));
        await setXattr(path.join(u, 'dir'), 'trusted.overlay.opaque', 'y');
        write(path.join(u, 'dir/new'), 'n');
      });
      const t = await mountAt('c', 'l2');
      expect(fs.readdirSync(t).sort()).toEqual(['dir', 'kept']);
      expect(fs.readdirSync(path.join(t, 'dir'))).toEqual(['new']);
    });

    it("a write in one container is invisible to another and to the lower layers (the tutorial's a0/a1)", async () => {
      await layer('img', undefined, async (u) => write(path.join(u, 'shared'), 'lower'));
      const a0 = await mountAt('a0', 'img');
      const a1 = await mountAt('a1', 'img');
      fs.writeFileSync(path.join(a0, 'touched'), 'a0');
      fs.writeFileSync(path.join(a0, 'shared'), 'changed by a0');
      expect(fs.existsSync(path.join(a1, 'touched'))).toBe(false);
      expect(fs.readFileSync(path.join(a1, 'shared'), 'utf8')).toBe('lower');
      expect(fs.readFileSync(path.join(await s.upperDir('a0'), 'touched'), 'utf8')).toBe('a0');
      expect(fs.readdirSync(await s.upperDir('a1'))).toEqual([]);
      const view = await mountAt('v', 'img', 'view');
      expect(fs.readdirSync(view)).toEqual(['shared']);
      expect(fs.readFileSync(path.join(view, 'shared'), 'utf8')).toBe('lower');
    });

    it('remove is refused while a child exists, and works after', async () => {
      await layer('p', undefined, async (u) => write(path.join(u, 'f'), 'x'));
      await s.prepare('child', 'p');
      await expect(s.remove('p')).rejects.toMatchObject({ code: 'FailedPrecondition' });
      await s.remove('child');
      await s.remove('p');
      expect(await s.walk()).toEqual([]);
    });

    it("usage counts a snapshot's own bytes and inodes, not its parents'", async () => {
      await layer('p', undefined, async (u) => write(path.join(u, 'big'), 'x'.repeat(1 << 20)));
      const t = await mountAt('c', 'p');
      fs.writeFileSync(path.join(t, 'mine'), 'y'.repeat(64 << 10));
      const own = await s.usage('c');
      expect(own.inodes).toBe(1);
      expect(own.size).toBeGreaterThanOrEqual(64 << 10);
      expect(own.size).toBeLessThan(1 << 20);
      expect((await s.usage('p')).size).toBeGreaterThanOrEqual(1 << 20);
    });

    it('an image of 120 layers is mounted and read (its overlay options exceed a page)', async () => {
      let parent: string | undefined;
      for (let i = 0; i < 120; i++) {
        const n = `layer-${String(i).padStart(3, '0')}`;
        await layer(n, parent, async (u) => {
          write(path.join(u, `f${i}`), String(i));
          write(path.join(u, 'top'), String(i));
        });
        parent = n;
      }
      const mounts = await s.prepare('big', parent);
      expect(mounts).toHaveLength(1);
      expect(Buffer.byteLength(mounts.flatMap((x) => x.options).join(','))).toBeGreaterThan(4096);
      const t = path.join(dir, 'mnt-big');
      fs.mkdirSync(t);
      await mountAll(mounts, t);
      mounted.push(t);
      expect(fs.readFileSync(path.join(t, 'f0'), 'utf8')).toBe('0');
      expect(fs.readFileSync(path.join(t, 'f119'), 'utf8')).toBe('119');
      expect(fs.readFileSync(path.join(t, 'top'), 'utf8')).toBe('119');
      expect(fs.readdirSync(t)).toHaveLength(121);
    }, 60_000);
  });
}
