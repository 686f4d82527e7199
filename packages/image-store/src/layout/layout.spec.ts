import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { isDataLoss, isInvalidArgument } from '@podkit/errdefs';
import { Descriptor, MediaType, digestOf } from '@podkit/oci-spec';
import { ContentStore } from '../content/store';
import { buildTar } from '../tar/writer';
import { exportDockerArchive } from './docker-archive';
import { importBlobs, openLayout } from './import';
import { exportOciArchive, exportOciDir } from './oci';

const haveSkopeo = spawnSync('skopeo', ['--version']).status === 0;

async function makeImage(content: ContentStore, seed: string): Promise<{ manifest: Descriptor; config: Descriptor; layers: Descriptor[]; diffIds: string[] }> {
  const tars = [
    buildTar([{ name: 'bin/', type: 'dir' }, { name: 'bin/tool', data: crypto.randomBytes(100 * 1024), mode: 0o755 }]),
    buildTar([{ name: 'etc/seed', data: seed }]),
  ];
  const layers: Descriptor[] = [];
  const first = zlib.gzipSync(tars[0] as Buffer);
  layers.push({ mediaType: MediaType.LayerGzip, digest: await content.putBlob(first), size: first.length });
  const second = tars[1] as Buffer; // one uncompressed layer too
  layers.push({ mediaType: MediaType.Layer, digest: await content.putBlob(second), size: second.length });
  const diffIds = tars.map((t) => digestOf(t));
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/tool'] }, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const config: Descriptor = { mediaType: MediaType.ImageConfig, digest: await content.putBlob(cfg), size: cfg.length };
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, config, layers }));
  return { manifest: { mediaType: MediaType.ImageManifest, digest: await content.putBlob(m), size: m.length }, config, layers, diffIds };
}

describe('image layouts and archives', () => {
  let dir: string;
  let src: ContentStore;
  let img: Awaited<ReturnType<typeof makeImage>>;
  let img2: Awaited<ReturnType<typeof makeImage>>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-layout-'));
    src = await ContentStore.open(path.join(dir, 'src'));
    img = await makeImage(src, 'one');
    img2 = await makeImage(src, 'two');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function fresh(name: string): Promise<ContentStore> {
    return ContentStore.open(path.join(dir, name));
  }

  it('oci-dir: export then import gives the same digests and names', async () => {
    const out = path.join(dir, 'oci');
    await exportOciDir(src, [{ name: 'reg.example/a/b:v1', root: img.manifest }, { name: 'reg.example/a/c:v2', root: img2.manifest }], out);
    const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].annotations).toEqual({ 'io.containerd.image.name': 'reg.example/a/b:v1', 'org.opencontainers.image.ref.name': 'v1' });
    const { format, source } = await openLayout(out);
    expect(format).toBe('oci-dir');
    expect(source.images.map((i) => [i.name, i.root.digest])).toEqual([
      ['reg.example/a/b:v1', img.manifest.digest],
      ['reg.example/a/c:v2', img2.manifest.digest],
    ]);
    const dst = await fresh('dst-ocidir');
    const stats = await importBlobs(source, dst, source.images.map((i) => i.root));
    expect(stats.imported).toHaveLength(2 * 4 - 0); // 2 images × (manifest, config, 2 layers)
    for (const d of [img.manifest, img.config, ...img.layers]) expect((await dst.readBlob(d.digest, 1 << 30)).equals(await src.readBlob(d.digest, 1 << 30))).toBe(true);
    // Again: everything present, nothing copied.
    expect((await importBlobs(source, dst, source.images.map((i) => i.root))).imported).toEqual([]);
    // Export into the same dir again with a new name for the same tag: the entry is replaced, blobs kept.
    await exportOciDir(src, [{ name: 'reg.example/a/b:v1', root: img2.manifest }], out);
    const again = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
    expect(again.manifests.map((m: Descriptor) => m.digest)).toEqual([img2.manifest.digest, img2.manifest.digest]);
  });

  it('oci-archive: export then import gives the same digests', async () => {
    const file = path.join(dir, 'img.oci.tar');
    await exportOciArchive(src, [{ name: 'reg.example/a/b:v1', root: img.manifest }], file);
    const { format, source } = await openLayout(file);
    expect(format).toBe('oci-archive');
    expect(source.images).toEqual([{ name: 'reg.example/a/b:v1', root: { mediaType: MediaType.ImageManifest, digest: img.manifest.digest, size: img.manifest.size } }]);
    const dst = await fresh('dst-ociarchive');
    await importBlobs(source, dst, [img.manifest]);
    for (const d of [img.manifest, img.config, ...img.layers]) expect(await dst.has(d.digest)).toBe(true);
  });

  it('docker-archive: export (uncompressed layers) then import keeps the image id and diff IDs', async () => {
    const file = path.join(dir, 'img.docker.tar');
    await exportDockerArchive(src, [{ name: 'docker.io/library/app:v1', manifest: img.manifest }], file);
    const { format, source } = await openLayout(file);
    expect(format).toBe('docker-archive');
    expect(source.images.map((i) => i.name)).toEqual(['app:v1']);
    const root = source.images[0]?.root as Descriptor;
    const dst = await fresh('dst-docker');
    await importBlobs(source, dst, [root]);
    const m = JSON.parse((await dst.readBlob(root.digest)).toString('utf8'));
    expect(m.mediaType).toBe(MediaType.DockerManifest);
    expect(m.config.digest).toBe(img.config.digest); // the image id survives
    // docker-archive layers are uncompressed: their digests are the diff IDs.
    expect(m.layers.map((l: Descriptor) => l.digest)).toEqual(img.diffIds);
    expect(m.layers.map((l: Descriptor) => l.mediaType)).toEqual([MediaType.DockerLayer, MediaType.DockerLayer]);
  });

  it('a corrupt blob in a layout is refused (DataLoss) and nothing of it is committed', async () => {
    const out = path.join(dir, 'corrupt');
    await exportOciDir(src, [{ name: 'x/y:z', root: img.manifest }], out);
    const victim = path.join(out, 'blobs', 'sha256', (img.layers[1] as Descriptor).digest.slice(7));
    const bytes = fs.readFileSync(victim);
    bytes[600] = (bytes[600] ?? 0) ^ 0xff;
    fs.writeFileSync(victim, bytes);
    const { source } = await openLayout(out);
    const dst = await fresh('dst-corrupt');
    const err = await importBlobs(source, dst, [img.manifest]).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
    expect(await dst.has((img.layers[1] as Descriptor).digest)).toBe(false);
    expect(await dst.has(img.manifest.digest)).toBe(false); // the manifest goes in last
  });

  it('a docker-archive whose layer does not match the diff ID is refused', async () => {
    const layer = buildTar([{ name: 'f', data: 'x' }]);
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(Buffer.from('other'))] } }));
    const file = path.join(dir, 'bad.docker.tar');
    fs.writeFileSync(file, buildTar([{ name: 'c.json', data: cfg }, { name: 'l/layer.tar', data: layer }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['a:b'], Layers: ['l/layer.tar'] }]) }]));
    const err = await openLayout(file).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
    expect((err as Error).message).toMatch(/diff ID/);
  });

  it('says what is wrong with a path that is no layout', async () => {
    const notar = path.join(dir, 'plain.tar');
    fs.writeFileSync(notar, buildTar([{ name: 'hello', data: 'x' }]));
    expect(isInvalidArgument(await openLayout(notar).catch((e: unknown) => e))).toBe(true);
    const empty = path.join(dir, 'emptydir');
    fs.mkdirSync(empty);
    expect(((await openLayout(empty).catch((e: unknown) => e)) as Error).message).toMatch(/no oci-layout/);
  });

  (haveSkopeo ? describe : describe.skip)('against skopeo', () => {
    it('skopeo reads what podkit exported (oci-dir, oci-archive, docker-archive)', async () => {
      const ociDir = path.join(dir, 'x-oci');
      const ociTar = path.join(dir, 'x-oci.tar');
      const dockerTar = path.join(dir, 'x-docker.tar');
      await exportOciDir(src, [{ name: 'reg.example/a/b:v1', root: img.manifest }], ociDir);
      await exportOciArchive(src, [{ name: 'reg.example/a/b:v1', root: img.manifest }], ociTar);
      await exportDockerArchive(src, [{ name: 'reg.example/a/b:v1', manifest: img.manifest }], dockerTar);
      for (const [ref, wantDigest] of [[`oci:${ociDir}:v1`, img.manifest.digest], [`oci-archive:${ociTar}:v1`, img.manifest.digest], [`docker-archive:${dockerTar}`, undefined]] as const) {
        const r = spawnSync('skopeo', ['inspect', '--raw', ref], { encoding: 'utf8' });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const m = JSON.parse(r.stdout);
        expect(m.config.digest).toBe(img.config.digest);
        if (wantDigest) expect(digestOf(Buffer.from(r.stdout))).toBe(wantDigest);
      }
    });

    it('podkit imports what skopeo wrote (oci-archive, docker-archive, and zstd layers)', async () => {
      const ociDir = path.join(dir, 'y-oci');
      await exportOciDir(src, [{ name: 'reg.example/a/b:v1', root: img.manifest }], ociDir);
      for (const [dest, args] of [
        [`oci-archive:${path.join(dir, 'y.oci.tar')}:v1`, []],
        [`docker-archive:${path.join(dir, 'y.docker.tar')}:app:v1`, []],
        [`oci:${path.join(dir, 'y-zstd')}:v1`, ['--dest-compress-format', 'zstd']],
      ] as const) {
        const r = spawnSync('skopeo', ['copy', '-q', ...args, `oci:${ociDir}:v1`, dest], { encoding: 'utf8' });
        expect(r.stderr).toBe('');
        const file = dest.split(':')[1] as string;
        const { source } = await openLayout(file);
        const dst = await fresh(`dst-skopeo-${path.basename(file)}`);
        const root = source.images[0]?.root as Descriptor;
        await importBlobs(source, dst, [root]);
        const m = JSON.parse((await dst.readBlob(root.digest)).toString('utf8'));
        expect(m.config.digest).toBe(img.config.digest);
        if (dest.includes('zstd')) expect(m.layers.map((l: Descriptor) => l.mediaType)).toEqual([MediaType.LayerZstd, MediaType.LayerZstd]);
      }
    });
  });
});
