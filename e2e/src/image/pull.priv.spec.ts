/**
 * image-store against a real registry: Debian's docker-registry on 127.0.0.1, seeded with skopeo from
 * the busybox-static images tools/ builds. Covers pull (gzip, uncompressed, multi-platform index),
 * ls / inspect / rm / unpack through the real `podimg` process, the cross-check of `podimg unpack`
 * with `umoci unpack`, and a kill -9 in the middle of a download followed by a pull that resumes.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageStore } from '@podkit/image-store';
import { getXattr } from '@podkit/runtime-core/sys';
import { buildBusyboxLayout, BusyboxLayoutResult, netRawCapability, skopeoPush } from '@podkit/tools/images/busybox';
import { buildGeneratedImage } from '@podkit/tools/images/generate';
import { OciLayout } from '@podkit/tools/images/layout';
import { podimgCommand } from '@podkit/tools/images/podimg';
import { TestRegistry, registryAvailable } from '../harness/registry';
import { describeTree, diffTrees } from './tree';

// Whiteouts in overlay layer dirs are char 0/0 devices and opaque dirs trusted.* xattrs: root only.
const isRoot = process.getuid?.() === 0;
const tools = ['skopeo', 'umoci'].every((t) => spawnSync('which', [t]).status === 0) && registryAvailable();
const suite = isRoot && tools ? describe : describe.skip;
if (!isRoot || !tools) {
  console.warn(`image e2e skipped: ${!isRoot ? 'needs root (overlay whiteouts are device nodes)' : 'docker-registry, skopeo or umoci missing'}`);
}

jest.setTimeout(180_000);

function podimg(args: string[], opts: { allowFail?: boolean } = {}): { status: number | null; stdout: string; stderr: string } {
  const [cmd, argv] = podimgCommand(args);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000 });
  if (!opts.allowFail && r.status !== 0) throw new Error(`podimg ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Opens the store `podimg` wrote (after it exited) to look at its records and layer snapshots. */
async function withStore<T>(root: string, fn: (store: ImageStore) => Promise<T>): Promise<T> {
  const store = await ImageStore.open(root);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The snapshot records in a store's snapshotter metadata, read without opening (and so repairing) it. */
function snapshotNames(root: string): string[] {
  const file = path.join(root, 'snapshots', 'metadata.json');
  if (!fs.existsSync(file)) return [];
  return Object.keys((JSON.parse(fs.readFileSync(file, 'utf8')) as { snapshots: Record<string, unknown> }).snapshots).sort();
}

suite('image-store against docker-registry', () => {
  let work: string;
  let reg: TestRegistry;
  let layout: BusyboxLayoutResult;
  let storeRoot: string;
  const g = (args: string[]) => ['--root', storeRoot, '--insecure-registry', reg.host, ...args];

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-e2e-image-'));
    reg = new TestRegistry();
    await reg.start();
    layout = buildBusyboxLayout(path.join(work, 'layout'));
    skopeoPush(layout.dir, 'gzip', `${reg.host}/lib/busybox:gzip`);
    skopeoPush(layout.dir, 'plain', `${reg.host}/lib/busybox:plain`);
    skopeoPush(layout.dir, 'multi', `${reg.host}/lib/busybox:multi`, true);
    storeRoot = path.join(work, 'store');
  });

  afterAll(async () => {
    await reg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('pulls the gzip image with plain progress lines, lists and inspects it', async () => {
    const r = podimg(g(['pull', `${reg.host}/lib/busybox:gzip`]));
    expect(r.stdout).toMatch(new RegExp(`pulled ${reg.host}/lib/busybox:gzip \\(id ${layout.gzip.config.digest.slice(7, 19)}, 2 layers\\)`));
    expect(r.stderr).toMatch(/resolved .*lib\/busybox:gzip to sha256:/);
    expect(r.stderr).toMatch(/: done/);
    const ls = JSON.parse(podimg(g(['-o', 'json', 'ls'])).stdout);
    expect(ls.map((x: { name: string }) => x.name)).toContain(`${reg.host}/lib/busybox:gzip`);
    const table = podimg(g(['ls'])).stdout;
    expect(table).toMatch(/^NAME\s+IMAGE ID\s+SIZE\s+PLATFORM\s+CREATED/);
    const insp = JSON.parse(podimg(g(['-o', 'json', 'inspect', `${reg.host}/lib/busybox:gzip`])).stdout);
    expect(insp.id).toBe(layout.gzip.config.digest);
    expect(insp.imageConfig.config.WorkingDir).toBe('/srv');
    // Each layer was extracted while downloading into a committed snapshot named by its chain ID
    // (whiteout as char 0/0, opaque xattr), the bottom one the parent of the top one.
    await withStore(storeRoot, async (store) => {
      const chains = store.chainIds(await store.get(`${reg.host}/lib/busybox:gzip`));
      expect(chains).toHaveLength(2);
      expect(chains[0]).toBe(layout.gzip.diffIds[0]);
      const snaps = await store.snapshotter.walk({ kind: 'committed' });
      expect(snaps.map((s) => s.name)).toEqual([...chains].sort());
      expect(snaps.find((s) => s.name === chains[1])?.parent).toBe(chains[0]);
      const upper = store.layerDir(chains[1]!);
      const wh = fs.lstatSync(path.join(upper, 'etc/motd'));
      expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
      expect((await getXattr(path.join(upper, 'var/opq'), 'trusted.overlay.opaque'))?.toString()).toBe('y');
      expect(fs.statSync(path.join(store.layerDir(chains[0]!), 'bin/busybox')).mode & 0o7777).toBe(0o755);
    });
    // Nothing left in the staging area.
    expect(fs.readdirSync(path.join(storeRoot, 'snapshots', 'staging'))).toEqual([]);
  });

  it('picks the platform from the multi-platform index', () => {
    const amd = JSON.parse(podimg(g(['-o', 'json', 'pull', '--platform', 'linux/amd64', `${reg.host}/lib/busybox:multi`])).stdout);
    expect(amd.manifest.digest).toBe(layout.gzip.manifest.digest);
    expect(amd.target.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const arm = JSON.parse(podimg(['--root', path.join(work, 'store-arm'), '-o', 'json', 'pull', '--platform', 'linux/arm64/v8', `${reg.host}/lib/busybox:multi`]).stdout);
    expect(arm.manifest.digest).toBe(layout.arm64.manifest.digest);
    expect(arm.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  });

  it('fails with one clear line and a non-zero status for an unknown image', () => {
    const r = podimg(g(['pull', `${reg.host}/lib/nothing:here`]), { allowFail: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^podimg: manifest .*lib\/nothing:here: HTTP 404/);
  });

  it.each(['gzip', 'plain'])('unpacks the %s image to the same tree as umoci unpack', async (tag) => {
    const ref = `${reg.host}/lib/busybox:${tag}`;
    podimg(g(['pull', '--no-unpack', ref]));
    const ours = path.join(work, `bundle-${tag}`);
    podimg(g(['unpack', ref, ours]));
    const theirsLayout = path.join(work, `umoci-layout-${tag}`);
    execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${theirsLayout}:${tag}`]);
    const theirs = path.join(work, `umoci-bundle-${tag}`);
    execFileSync('umoci', ['unpack', '--image', `${theirsLayout}:${tag}`, theirs], { stdio: ['ignore', 'ignore', 'pipe'] });
    const a = await describeTree(path.join(ours, 'rootfs'));
    const b = await describeTree(path.join(theirs, 'rootfs'));
    // The root directory itself is created by each tool with its own mode; everything below must match.
    a.delete('.');
    b.delete('.');
    expect(diffTrees(a, b)).toEqual([]);
    expect(a.size).toBeGreaterThan(250);
    expect(a.get('etc/motd')).toBeUndefined();
    expect([...a.keys()].filter((k) => k.startsWith('var/opq/')).sort()).toEqual(['var/opq/upper-file', 'var/opq/upper-link']);
    expect(a.get('usr/local/bin/suid-tool')?.mode).toBe('4755');
    // Hard links share busybox's inode and exec bit (their headers carry its mode).
    expect(a.get('bin/busybox')?.mode).toBe('755');
    const links = [...a].filter(([k, e]) => k.startsWith('bin/') && k !== 'bin/busybox' && e.type === 'file').map(([, e]) => e);
    expect(links.length).toBeGreaterThan(10);
    for (const l of links) expect(l).toMatchObject({ mode: '755', sha256: a.get('bin/busybox')?.sha256 });
    expect(a.get('var/opq/upper-link')).toMatchObject({ type: 'file', mode: '600', uid: 1000, gid: 1000 });
    expect(a.get('usr/local/bin/cap-tool')?.xattrs).toEqual({
      'security.capability': netRawCapability().toString('base64'),
      'user.podkit.note': Buffer.from('hello').toString('base64'),
    });
    expect(a.get('dev/null')).toMatchObject({ type: 'char', rdev: 0x103 });
    expect(a.get('home/app/.profile')).toMatchObject({ uid: 1000, gid: 1000, mode: '640' });
    const spec = JSON.parse(fs.readFileSync(path.join(ours, 'config.json'), 'utf8'));
    expect(spec.process.cwd).toBe('/srv');
    expect(spec.process.env).toContain('PODKIT=1');
    expect(fs.readFileSync(path.join(ours, 'rootfs/srv/hello.sh'), 'utf8')).toMatch(/hello from podkit/);
  });

  it('removes an image and the blobs and layer snapshots only it referenced', async () => {
    const store2 = path.join(work, 'store-rm');
    const h = ['--root', store2];
    podimg([...h, 'pull', `${reg.host}/lib/busybox:gzip`]);
    podimg([...h, 'pull', `${reg.host}/lib/busybox:plain`]);
    const blobs = (): string[] => fs.readdirSync(path.join(store2, 'content/blobs/sha256')).sort();
    expect(blobs()).toHaveLength(7); // 2 manifests, 1 shared config, 2 gzip + 2 plain layers
    const chains = await withStore(store2, async (store) => store.chainIds(await store.get(`${reg.host}/lib/busybox:plain`)));
    expect(snapshotNames(store2)).toEqual([...chains].sort());
    const r = JSON.parse(podimg([...h, '-o', 'json', 'rm', `${reg.host}/lib/busybox:gzip`]).stdout);
    // Both images share the config (same diff IDs and settings), so it stays; so do the layer snapshots.
    expect(r[0].blobs).toHaveLength(3);
    expect(r[0].layers).toEqual([]);
    expect(blobs()).toHaveLength(4);
    expect(snapshotNames(store2)).toEqual([...chains].sort());
    const r2 = JSON.parse(podimg([...h, '-o', 'json', 'rm', `${reg.host}/lib/busybox:plain`]).stdout);
    // The last image sharing them is gone: its snapshots are removed, top layer first.
    expect(r2[0].layers).toEqual([...chains].reverse());
    expect(blobs()).toEqual([]);
    expect(snapshotNames(store2)).toEqual([]);
    expect(fs.readdirSync(path.join(store2, 'snapshots', 'snapshots'))).toEqual([]);
  });

  it('resumes a pull after the puller is killed with SIGKILL in the middle of a layer', async () => {
    const bigLayout = new OciLayout(path.join(work, 'big-layout'));
    const big = await buildGeneratedImage(bigLayout, { layers: 1, layerBytes: 96 * 1024 * 1024, fileBytes: 1024 * 1024 });
    bigLayout.tag(big.manifest, 'v1');
    skopeoPush(bigLayout.dir, 'v1', `${reg.host}/lib/big:v1`);
    const store3 = path.join(work, 'store-kill');
    const ingest = path.join(store3, 'content', 'ingest');
    const [cmd, argv] = podimgCommand(['--root', store3, 'pull', `${reg.host}/lib/big:v1`]);
    const child: ChildProcess = spawn(cmd, argv, { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // Wait (polling, with a deadline) until part of the layer is on disk, then kill -9.
    const deadline = Date.now() + 60_000;
    let partial = 0;
    while (Date.now() < deadline && partial < 2 * 1024 * 1024) {
      await new Promise((r) => setTimeout(r, 5));
      for (const d of fs.existsSync(ingest) ? fs.readdirSync(ingest) : []) {
        try {
          // Ingestions of small blobs come and go while we look: a vanished one is simply skipped.
          if (fs.readFileSync(path.join(ingest, d, 'ref'), 'utf8').includes(big.layers[0]!.digest)) partial = fs.statSync(path.join(ingest, d, 'data')).size;
        } catch {
          /* committed meanwhile */
        }
      }
    }
    child.kill('SIGKILL');
    await exited;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(big.layers[0]!.size);
    // No layer snapshot was committed; the half-extracted layer is in the killed process's staging dir.
    expect(snapshotNames(store3)).toEqual([]);
    const staging = path.join(store3, 'snapshots', 'staging');
    expect(fs.readdirSync(staging).filter((d) => d.startsWith(`layer-${child.pid}-`))).toHaveLength(1);
    const r = podimg(['--root', store3, 'pull', `${reg.host}/lib/big:v1`]);
    expect(r.stderr).toMatch(/: resuming at [\d.]+ (KiB|MiB)/);
    expect(fs.readdirSync(ingest)).toEqual([]);
    // One layer: its chain ID is its diff ID.
    expect(snapshotNames(store3)).toEqual([big.diffIds[0]]);
    // The killed process's half-extracted staging dir was removed when the store was opened again.
    expect(fs.readdirSync(staging)).toEqual([]);
    await withStore(store3, async (store) => {
      expect(fs.readdirSync(path.join(store.layerDir(big.diffIds[0]!), 'layer0')).length).toBe(16);
    });
    const ids = JSON.parse(podimg(['--root', store3, '-o', 'json', 'ls']).stdout).map((x: { id: string }) => x.id);
    expect(ids).toEqual([big.config.digest]);
  });
});
