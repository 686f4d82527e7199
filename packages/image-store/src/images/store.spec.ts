import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlreadyExists, isDataLoss, isNotFound } from '@podkit/errdefs';
import { MediaType } from '@podkit/oci-spec';
import { FakeRegistry } from '../test-support/fake-registry';
import { unpackBundle } from '../unpack/bundle';
import { usesLayerPipe } from '../unpack/layer';
import { ImageStore } from './store';
import { PullEvent } from './types';

const amd64 = { os: 'linux', architecture: 'amd64' };

// Every pull here runs twice: through the native layer pipe (the default) and through the JavaScript
// path (node:zlib and node:crypto on this thread) that zstd layers, and nodes without the pipe, take.
describe.each(['native layer pipe', 'javascript path'] as const)('ImageStore, layers through the %s', (via) => {
  const saved = process.env['PODKIT_LAYER_PIPE'];
  beforeAll(() => {
    if (via === 'javascript path') process.env['PODKIT_LAYER_PIPE'] = '0';
    else delete process.env['PODKIT_LAYER_PIPE'];
    expect(usesLayerPipe('gzip')).toBe(via === 'native layer pipe');
  });
  afterAll(() => {
    if (saved === undefined) delete process.env['PODKIT_LAYER_PIPE'];
    else process.env['PODKIT_LAYER_PIPE'] = saved;
  });
  let reg: FakeRegistry;
  let root: string;
  let store: ImageStore;
  beforeEach(async () => {
    reg = new FakeRegistry();
    await reg.start();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-images-'));
    store = await ImageStore.open(path.join(root, 'store'), { backoffMs: 5 });
  });
  afterEach(async () => {
    await store.close();
    await reg.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const layers = [
    [
      { name: 'bin/', type: 'dir' as const },
      { name: 'bin/sh', data: '#!sh', mode: 0o755 },
      { name: 'etc/', type: 'dir' as const },
      { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' },
    ],
    [{ name: 'etc/motd', data: 'hello' }],
  ];

  it('pulls an image: manifest, config, layers in the content store and one committed snapshot per layer', async () => {
    const img = reg.addImage('lib/app', 'v1', layers);
    const events: PullEvent[] = [];
    const rec = await store.pull(`${reg.host}/lib/app:v1`, { platform: amd64, onProgress: (e) => events.push(e) });
    expect(rec.name).toBe(`${reg.host}/lib/app:v1`);
    expect(rec.id).toBe(img.configDesc.digest);
    expect(rec.diffIds).toEqual(img.config.rootfs.diff_ids);
    for (const d of [img.desc, img.configDesc, ...img.layerDescs]) expect(await store.content.has(d.digest)).toBe(true);
    const chain = store.chainIds(rec);
    expect(chain[0]).toBe(rec.diffIds[0]);
    expect(fs.readFileSync(path.join(store.layerDir(chain[0]!), 'bin/sh'), 'utf8')).toBe('#!sh');
    expect(fs.readFileSync(path.join(store.layerDir(chain[1]!), 'etc/motd'), 'utf8')).toBe('hello');
    const snaps = await store.snapshotter.walk();
    expect(snaps.map((x) => [x.name, x.kind, x.parent, x.labels['podkit.io/diff-id']])).toEqual(
      [
        [chain[0], 'committed', undefined, rec.diffIds[0]],
        [chain[1], 'committed', chain[0], rec.diffIds[1]],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    // A container's writable snapshot on the image's top layer, by image reference.
    const [m] = await store.prepareSnapshot('ctr-1', rec.name);
    expect(m!.type).toBe('overlay');
    expect(m!.options).toContain(`lowerdir=${store.layerDir(chain[1]!)}:${store.layerDir(chain[0]!)}`);
    await store.snapshotter.remove('ctr-1');
    expect(events[0]).toMatchObject({ type: 'resolved', digest: img.desc.digest });
    expect(events.filter((e) => e.type === 'layer' && e.status === 'done')).toHaveLength(3);
    expect(events[events.length - 1]).toEqual({ type: 'done', name: rec.name, id: rec.id });
    expect((await store.list()).map((r) => r.name)).toEqual([rec.name]);
    expect((await store.get(rec.id.slice(7, 19))).name).toBe(rec.name);
    // A second pull finds everything in place and downloads no blob again.
    const before = reg.log.length;
    await store.pull(`${reg.host}/lib/app:v1`, { platform: amd64 });
    expect(reg.log.slice(before).filter((l) => l.url.includes('/blobs/'))).toEqual([]);
  });

  it('picks the platform from a multi-platform index', async () => {
    const a = reg.addImage('lib/multi', undefined, layers, { architecture: 'amd64' });
    const b = reg.addImage('lib/multi', undefined, [[{ name: 'arm', data: 'arm' }]], { architecture: 'arm64' });
    reg.addManifest(
      'lib/multi',
      {
        schemaVersion: 2,
        mediaType: MediaType.ImageIndex,
        manifests: [
          { ...b.desc, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { ...a.desc, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      },
      MediaType.ImageIndex,
      'latest',
    );
    const rec = await store.pull(`${reg.host}/lib/multi`, { platform: { os: 'linux', architecture: 'arm64' } });
    expect(rec.manifest.digest).toBe(b.desc.digest);
    expect(rec.target.mediaType).toBe(MediaType.ImageIndex);
    expect(rec.platform).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(reg.blobGets(a.layerDescs[0]!.digest)).toHaveLength(0);
    await expect(store.pull(`${reg.host}/lib/multi`, { platform: { os: 'linux', architecture: 's390x' } })).rejects.toThrow(/no manifest for platform linux\/s390x \(the index has linux\/arm64\/v8, linux\/amd64\)/);
  });

  it('validates the download concurrency', async () => {
    await expect(store.pull(`${reg.host}/lib/app:v1`, { concurrency: 0 })).rejects.toThrow(/concurrency: must be an integer from 1 to 64, got 0/);
  });

  it('shares one download between concurrent pulls of the same image, and of two names for it', async () => {
    const img = reg.addImage('lib/app', 'v1', layers);
    reg.addManifest('lib/app', JSON.parse(reg.manifests.get(`lib/app:v1`)!.body.toString()), MediaType.ImageManifest, 'v2');
    const pulls = [1, 2, 3].map(() => store.pull(`${reg.host}/lib/app:v1`, { platform: amd64 }));
    pulls.push(store.pull(`${reg.host}/lib/app:v2`, { platform: amd64 }));
    const recs = await Promise.all(pulls);
    expect(new Set(recs.map((r) => r.id))).toEqual(new Set([img.configDesc.digest]));
    for (const d of img.layerDescs) expect(reg.blobGets(d.digest)).toHaveLength(1);
  });

  it('resumes a layer download left half-done by a crash (Range from the stored offset)', async () => {
    const big = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: Buffer.from(require('node:crypto').randomBytes(20_000)) }));
    const img = reg.addImage('lib/big', 'v1', [big], { gzip: false });
    const layer = img.layerDescs[0]!;
    const w = await store.content.writer(`blob-${layer.digest}`, { expected: { digest: layer.digest, size: layer.size } });
    await w.write(reg.blobs.get(layer.digest)!.subarray(0, 400_000));
    await w.close();
    const rec = await store.pull(`${reg.host}/lib/big:v1`, { platform: amd64 });
    expect(reg.blobGets(layer.digest).map((l) => l.range)).toEqual(['bytes=400000-']);
    expect(fs.readFileSync(path.join(store.layerDir(store.chainIds(rec)[0]!), 'f49'))).toEqual(big[49]!.data);
  });

  it('removes extraction staging dirs of dead processes when it opens, and keeps those of live ones', async () => {
    const staging = path.join(store.root, 'snapshots', 'staging');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.mkdirSync(path.join(staging, `layer-${dead}-0badcafe`, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(staging, `layer-${process.pid}-0badcafe`));
    const again = await ImageStore.open(store.root);
    await again.close();
    expect(fs.readdirSync(staging)).toEqual([`layer-${process.pid}-0badcafe`]);
  });

  it('survives a connection cut in the middle of a layer', async () => {
    const img = reg.addImage('lib/app', 'v1', layers, { gzip: false });
    reg.faults.cutBlobAfter = 1000;
    await store.pull(`${reg.host}/lib/app:v1`, { platform: amd64 });
    expect(reg.blobGets(img.layerDescs[0]!.digest).map((l) => l.range)).toEqual([undefined, 'bytes=1000-']);
  });

  it('refuses a layer whose diff ID does not match the config and keeps no layer dir', async () => {
    const img = reg.addImage('lib/bad', 'v1', layers);
    const cfg = { ...img.config, rootfs: { type: 'layers', diff_ids: [img.config.rootfs.diff_ids[1], img.config.rootfs.diff_ids[0]] } };
    const cfgDesc = reg.addBlob(Buffer.from(JSON.stringify(cfg)), MediaType.ImageConfig);
    reg.addManifest('lib/bad', { schemaVersion: 2, mediaType: MediaType.ImageManifest, config: cfgDesc, layers: img.layerDescs }, MediaType.ImageManifest, 'v2');
    const err = await store.pull(`${reg.host}/lib/bad:v2`, { platform: amd64 }).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
    expect((err as Error).message).toMatch(/diff ID .* does not match/);
    expect(await store.snapshotter.walk()).toEqual([]);
    expect(fs.readdirSync(path.join(store.root, 'snapshots', 'staging'))).toEqual([]);
    expect(isNotFound(await store.get(`${reg.host}/lib/bad:v2`).catch((e: unknown) => e))).toBe(true);
  });

  it('refuses a hostile layer during pull: nothing outside the store is touched, no layer dir is left', async () => {
    const victimDir = path.join(root, 'host');
    fs.mkdirSync(victimDir);
    const victim = path.join(victimDir, 'victim');
    fs.writeFileSync(victim, 'original');
    reg.addImage('lib/evil', 'v1', [[{ name: 'ok', data: 'fine' }, { name: 'escape', type: 'symlink', linkname: victimDir }, { name: 'escape/victim', data: 'pwned' }]]);
    const err = await store.pull(`${reg.host}/lib/evil:v1`, { platform: amd64 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/parent escape is a symlink: refused/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('original');
    expect(fs.readdirSync(victimDir)).toEqual(['victim']);
    expect(await store.snapshotter.walk()).toEqual([]);
    expect(fs.readdirSync(path.join(store.root, 'snapshots', 'staging'))).toEqual([]);
    reg.addImage('lib/evil', 'v2', [[{ name: '../../../host/victim', data: 'pwned' }]]);
    await expect(store.pull(`${reg.host}/lib/evil:v2`, { platform: amd64 })).rejects.toThrow(/path contains '\.\.'/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('original');
  });

  it('removes an image and the blobs and layers only it referenced', async () => {
    const one = reg.addImage('lib/one', 'v1', layers);
    const two = reg.addImage('lib/two', 'v1', [layers[0]!, [{ name: 'other', data: 'o' }]]);
    await store.pull(`${reg.host}/lib/one:v1`, { platform: amd64 });
    const recTwo = await store.pull(`${reg.host}/lib/two:v1`, { platform: amd64 });
    const res = await store.remove(`${reg.host}/lib/one:v1`);
    expect(res.blobs.sort()).toEqual([one.desc.digest, one.configDesc.digest, one.layerDescs[1]!.digest].sort());
    expect(res.layers).toEqual([store.chainIds({ ...recTwo, diffIds: one.config.rootfs.diff_ids as typeof recTwo.diffIds })[1]]);
    expect(await store.content.has(one.layerDescs[0]!.digest)).toBe(true); // shared with two
    expect(fs.existsSync(store.layerDir(store.chainIds(recTwo)[0]!))).toBe(true);
    await store.remove(recTwo.id);
    const left: string[] = [];
    for await (const b of store.content.walk()) left.push(b.digest);
    expect(left).toEqual([]);
    expect(await store.snapshotter.walk()).toEqual([]);
    expect(two.desc.digest).toBeDefined();
    expect(isNotFound(await store.remove(`${reg.host}/lib/one:v1`).catch((e: unknown) => e))).toBe(true);
  });

  it('unpacks an image into a bundle with rootfs and config.json, and refuses an existing target', async () => {
    reg.addImage('lib/app', 'v1', [...layers, [{ name: 'etc/.wh.motd', data: '' }, { name: 'work/', type: 'dir' }]], { config: { User: 'app', Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'] } });
    await store.pull(`${reg.host}/lib/app:v1`, { platform: amd64, unpack: false });
    const dir = path.join(root, 'bundle');
    const r = await unpackBundle(store, `${reg.host}/lib/app:v1`, dir);
    expect(r.layers).toBe(3);
    expect(fs.readFileSync(path.join(dir, 'rootfs/bin/sh'), 'utf8')).toBe('#!sh');
    expect(fs.existsSync(path.join(dir, 'rootfs/etc/motd'))).toBe(false);
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(spec.process.args).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000 });
    expect(spec.process.cwd).toBe('/work');
    expect(spec.process.env).toEqual(expect.arrayContaining(['PATH=/bin', 'A=1']));
    expect(spec.root).toEqual({ path: 'rootfs', readonly: false });
    expect(isAlreadyExists(await unpackBundle(store, `${reg.host}/lib/app:v1`, dir).catch((e: unknown) => e))).toBe(true);
  });

  it('leaves no half-written bundle when unpacking fails', async () => {
    const img = reg.addImage('lib/app', 'v1', layers);
    await store.pull(`${reg.host}/lib/app:v1`, { platform: amd64, unpack: false });
    // Corrupt the stored second layer: its bytes no longer match the digest.
    const p = store.content.blobPath(img.layerDescs[1]!.digest);
    fs.chmodSync(p, 0o644);
    fs.writeFileSync(p, reg.blobs.get(img.layerDescs[0]!.digest)!);
    const err = await unpackBundle(store, `${reg.host}/lib/app:v1`, path.join(root, 'b')).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
    expect(fs.readdirSync(root)).toEqual(['store']);
  });
});
