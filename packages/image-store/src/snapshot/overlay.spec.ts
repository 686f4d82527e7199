import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { codeOf, isAlreadyExists, isFailedPrecondition, isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { chainId, chainIds } from './chain';
import { EXTRACT_LABEL, OverlaySnapshotter, dirUsage, dirUsageSync } from './overlay';

/** A pid no process has (above the kernel's pid_max of 2^22). */
const DEAD_PID = 2 ** 22 + 11;

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('chain IDs (image-spec)', () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  it('the first chain ID is the first diff ID; the next ones hash "<parent> <diff>"', () => {
    const ids = chainIds([a, b]);
    expect(ids[0]).toBe(a);
    // sha256("sha256:aaa… sha256:bbb…"), computed independently with sha256sum.
    expect(ids[1]).toBe(chainId([a, b]));
    expect(ids[1]).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(ids[1]).not.toBe(b);
  });
  it('rejects bad diff IDs with their path', () => {
    const e = (() => {
      try {
        chainIds([a, 'sha256:xyz']);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(isInvalidArgument(e)).toBe(true);
    expect((e as Error).message).toMatch(/^\/rootfs\/diff_ids\/1:/);
  });
});

describe('OverlaySnapshotter', () => {
  let root: string;
  let s: OverlaySnapshotter;
  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-snap-'));
    s = await OverlaySnapshotter.open(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  async function layer(name: string, parent: string | undefined, files: Record<string, string>): Promise<void> {
    await s.prepare(`extract-${name}`, parent, { labels: { [EXTRACT_LABEL]: String(DEAD_PID) } });
    const up = await s.upperDir(`extract-${name}`);
    for (const [f, c] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(up, f)), { recursive: true });
      fs.writeFileSync(path.join(up, f), c);
    }
    await s.commit(name, `extract-${name}`);
  }

  it('prepare with no parent returns a writable bind mount of an empty dir', async () => {
    const m = await s.prepare('c1');
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ type: 'bind', options: ['rw', 'rbind'] });
    expect(fs.readdirSync(m[0]!.source)).toEqual([]);
    expect((await s.stat('c1')).kind).toBe('active');
  });

  it('prepare on a chain returns overlay options with lowerdirs nearest first', async () => {
    await layer('l1', undefined, { 'bin/sh': 'sh' });
    await layer('l2', 'l1', { 'etc/passwd': 'root' });
    const [m] = await s.prepare('ctr', 'l2');
    expect(m!.type).toBe('overlay');
    const opt = (k: string): string => m!.options.find((o) => o.startsWith(`${k}=`))!.slice(k.length + 1);
    const lowers = opt('lowerdir').split(':');
    expect(lowers).toHaveLength(2);
    expect(fs.readFileSync(path.join(lowers[0]!, 'etc/passwd'), 'utf8')).toBe('root');
    expect(fs.readFileSync(path.join(lowers[1]!, 'bin/sh'), 'utf8')).toBe('sh');
    expect(opt('upperdir')).toBe(await s.upperDir('ctr'));
    expect(fs.statSync(opt('workdir')).isDirectory()).toBe(true);
    expect(await s.mounts('ctr')).toEqual([m]);
  });

  it('views are read-only: bind of a single parent, overlay of lowers for a chain', async () => {
    await layer('l1', undefined, { a: '1' });
    expect(await s.view('v1', 'l1')).toEqual([{ type: 'bind', source: expect.stringMatching(/\/fs$/), options: ['ro', 'rbind'] }]);
    await layer('l2', 'l1', { b: '2' });
    const [m] = await s.view('v2', 'l2');
    expect(m!.type).toBe('overlay');
    expect(m!.options.some((o) => o.startsWith('upperdir='))).toBe(false);
    expect(isFailedPrecondition(await rejects(s.upperDir('v2')))).toBe(true);
    expect(isFailedPrecondition(await rejects(s.commit('x', 'v2')))).toBe(true);
  });

  it('commit keeps files, drops the work dir and the extract label, records usage', async () => {
    await layer('l1', undefined, { 'big': 'x'.repeat(10000) });
    const info = await s.stat('l1');
    expect(info).toMatchObject({ name: 'l1', kind: 'committed' });
    expect(info.labels[EXTRACT_LABEL]).toBeUndefined();
    const u = await s.usage('l1');
    expect(u.inodes).toBe(1);
    expect(u.size).toBeGreaterThanOrEqual(10000);
    expect(isNotFound(await rejects(s.stat('extract-l1')))).toBe(true);
    expect(isFailedPrecondition(await rejects(s.mounts('l1')))).toBe(true);
  });

  it('errors: duplicate keys, missing or uncommitted parents, bad keys, remove with children', async () => {
    await s.prepare('a');
    expect(isAlreadyExists(await rejects(s.prepare('a')))).toBe(true);
    expect(isNotFound(await rejects(s.prepare('b', 'nope')))).toBe(true);
    expect(isFailedPrecondition(await rejects(s.prepare('b', 'a')))).toBe(true);
    const bad = await rejects(s.prepare('../escape'));
    expect(isInvalidArgument(bad)).toBe(true);
    expect((bad as Error).message).toMatch(/^key: /);
    await layer('base', undefined, {});
    await s.prepare('child', 'base');
    const e = await rejects(s.remove('base'));
    expect(isFailedPrecondition(e)).toBe(true);
    expect((e as Error).message).toMatch(/child/);
    await s.remove('child');
    await s.remove('base');
    expect(codeOf(await rejects(s.remove('base')))).toBe('NotFound');
    expect(isAlreadyExists(await rejects(s.commit('a', 'a')))).toBe(true);
  });

  it('walk filters by kind, parent and labels', async () => {
    await layer('l1', undefined, {});
    await s.prepare('c1', 'l1', { labels: { app: 'web' } });
    await s.prepare('c2', 'l1');
    expect((await s.walk()).map((i) => i.name)).toEqual(['c1', 'c2', 'l1']);
    expect((await s.walk({ kind: 'committed' })).map((i) => i.name)).toEqual(['l1']);
    expect((await s.walk({ parent: 'l1' })).map((i) => i.name)).toEqual(['c1', 'c2']);
    expect((await s.walk({ labels: { app: 'web' } })).map((i) => i.name)).toEqual(['c1']);
  });

  it('survives a reopen, and repairs what a crash left behind', async () => {
    await layer('l1', undefined, { f: '1' });
    await s.prepare('ctr', 'l1');
    // An unpack in progress at the crash, a snapshot dir with no record, a record with no dir.
    await s.prepare('extract-l2', 'l1', { labels: { [EXTRACT_LABEL]: String(DEAD_PID) } });
    fs.mkdirSync(path.join(root, 'snapshots', '999', 'fs'), { recursive: true });
    await s.prepare('lost');
    const meta = JSON.parse(fs.readFileSync(path.join(root, 'metadata.json'), 'utf8'));
    fs.rmSync(path.join(root, 'snapshots', String(meta.snapshots.lost.id)), { recursive: true });

    const s2 = await OverlaySnapshotter.open(root);
    expect(s2.repaired.droppedRecords.sort()).toEqual(['extract-l2', 'lost']);
    expect(s2.repaired.removedDirs).toContain('999');
    expect((await s2.walk()).map((i) => i.name)).toEqual(['ctr', 'l1']);
    expect(fs.readdirSync(path.join(root, 'snapshots')).sort()).toEqual(
      [String(meta.snapshots.l1.id), String(meta.snapshots.ctr.id)].sort(),
    );
    // ids are never reused
    const [m] = await s2.prepare('new');
    expect(m!.source).not.toMatch(/\/999\//);
  });

  it('drops snapshots whose committed parent vanished', async () => {
    await layer('l1', undefined, {});
    await s.prepare('ctr', 'l1');
    const meta = JSON.parse(fs.readFileSync(path.join(root, 'metadata.json'), 'utf8'));
    fs.rmSync(path.join(root, 'snapshots', String(meta.snapshots.l1.id)), { recursive: true });
    const s2 = await OverlaySnapshotter.open(root);
    expect(await s2.walk()).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'snapshots'))).toEqual([]);
  });

  it('concurrent prepares get distinct ids and all persist', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.prepare(`c${i}`)));
    const s2 = await OverlaySnapshotter.open(root);
    expect(await s2.walk()).toHaveLength(20);
    expect(new Set((await Promise.all(Array.from({ length: 20 }, (_, i) => s2.mounts(`c${i}`)))).map((m) => m[0]!.source)).size).toBe(20);
  });
});

describe('OverlaySnapshotter.importLayer', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-snap-imp-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('moves an extracted directory in as a committed snapshot, in chain order', async () => {
    const s = await OverlaySnapshotter.open(root);
    const d1 = await s.stagingDir();
    fs.writeFileSync(path.join(d1, 'a'), 'A');
    const d2 = await s.stagingDir();
    fs.writeFileSync(path.join(d2, 'b'), 'B');
    await s.importLayer('c1', undefined, d1);
    expect(fs.existsSync(d1)).toBe(false);
    const info = await s.importLayer('c2', 'c1', d2, { labels: { 'podkit.io/diff-id': 'x' } });
    expect(info).toMatchObject({ name: 'c2', parent: 'c1', kind: 'committed', labels: { 'podkit.io/diff-id': 'x' } });
    const [m] = await s.view('v', 'c2');
    const lowers = m!.options[0]!.replace('lowerdir=', '').split(':');
    expect(fs.readFileSync(path.join(lowers[0]!, 'b'), 'utf8')).toBe('B');
    expect(fs.readFileSync(path.join(lowers[1]!, 'a'), 'utf8')).toBe('A');
    expect(isAlreadyExists(await rejects(s.importLayer('c1', undefined, await s.stagingDir())))).toBe(true);
    expect(isNotFound(await rejects(s.importLayer('c3', 'nope', await s.stagingDir())))).toBe(true);
    // Staging left by a dead process vanishes on reopen; a live process's stays.
    const live = await s.stagingDir();
    fs.mkdirSync(path.join(root, 'staging', `layer-${DEAD_PID}-abc`));
    const s2 = await OverlaySnapshotter.open(root);
    const left = fs.readdirSync(path.join(root, 'staging'));
    expect(left).toContain(path.basename(live));
    expect(left).not.toContain(`layer-${DEAD_PID}-abc`);
    expect(s2.has('c2')).toBe(true);
  });

  it('imports a chain of layers in one transaction: usage as given, existing names skipped, nothing kept on failure', async () => {
    const s = await OverlaySnapshotter.open(root);
    const staged = async (file: string): Promise<string> => {
      const d = await s.stagingDir();
      fs.writeFileSync(path.join(d, file), file);
      return d;
    };
    const d1 = await staged('a');
    const usage1 = dirUsageSync(d1);
    expect(usage1.inodes).toBe(1);
    expect(usage1).toEqual(await dirUsage(d1));
    await s.importLayer('c1', undefined, await staged('x'));
    const d2 = await staged('b');
    const d3 = await staged('c');
    // c1 exists already (a concurrent pull): skipped, its directory stays with the caller; c2 builds on it.
    const out = await s.importLayers([
      { name: 'c1', dir: d1, usage: usage1 },
      { name: 'c2', parent: 'c1', dir: d2, usage: { size: 12345, inodes: 7 } },
      { name: 'c3', parent: 'c2', dir: d3 },
    ]);
    expect(out.map((i) => i?.name)).toEqual([undefined, 'c2', 'c3']);
    expect(fs.existsSync(d1)).toBe(true);
    expect(fs.existsSync(d2) || fs.existsSync(d3)).toBe(false);
    expect(await s.usage('c2')).toEqual({ size: 12345, inodes: 7 });
    expect((await s.usage('c3')).inodes).toBe(1);
    // A missing parent fails the whole batch: the layers before it are not committed, their directories are gone.
    const d4 = await staged('d');
    const d5 = await staged('e');
    const err = await rejects(s.importLayers([{ name: 'c4', parent: 'c3', dir: d4 }, { name: 'c5', parent: 'nope', dir: d5 }]));
    expect(isNotFound(err)).toBe(true);
    expect(s.has('c4')).toBe(false);
    expect(fs.existsSync(d5)).toBe(true);
    expect(fs.readdirSync(path.join(root, 'snapshots')).length).toBe(3);
    const reopened = await OverlaySnapshotter.open(root);
    expect(['c1', 'c2', 'c3', 'c4'].map((n) => reopened.has(n))).toEqual([true, true, true, false]);
    expect(isInvalidArgument(await rejects(s.importLayers([{ name: '../x', dir: d5 }])))).toBe(true);
  });
});
