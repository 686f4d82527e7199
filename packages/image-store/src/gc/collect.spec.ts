import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Descriptor, Digest, digestOf, MediaType } from '@podkit/oci-spec';
import { ContentStore } from '../content/store';
import type { ImageRecord } from '../images/types';
import { chainIds } from '../snapshot/chain';
import { OverlaySnapshotter } from '../snapshot/overlay';
import { collectGarbage } from './collect';
import { Lease, liveLeases } from './leases';

describe('garbage collection', () => {
  let root: string;
  let content: ContentStore;
  let snaps: OverlaySnapshotter;
  let images: ImageRecord[];

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-gc-'));
    content = await ContentStore.open(path.join(root, 'content'));
    snaps = await OverlaySnapshotter.open(path.join(root, 'snapshots'));
    images = [];
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  async function blob(text: string, mediaType: string = MediaType.LayerGzip): Promise<Descriptor> {
    const data = Buffer.from(text);
    const digest = await content.putBlob(data);
    // Age it so it is older than the GC run.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(content.blobPath(digest), old, old);
    return { mediaType, digest, size: data.length };
  }

  async function image(name: string, layers: string[]): Promise<ImageRecord> {
    const layerDescs = await Promise.all(layers.map((l) => blob(l)));
    const diffIds = layers.map((l) => digestOf(`diff:${l}`));
    const config = await blob(`config:${name}`, MediaType.ImageConfig);
    const manifest = await blob(`manifest:${name}`, MediaType.ImageManifest);
    const chain = chainIds(diffIds);
    for (let i = 0; i < chain.length; i++) {
      if (snaps.has(chain[i]!)) continue;
      const dir = await snaps.stagingDir();
      fs.writeFileSync(path.join(dir, `f${i}`), layers[i]!.repeat(100));
      await snaps.importLayer(chain[i]!, chain[i - 1], dir);
    }
    const rec: ImageRecord = {
      name,
      target: manifest,
      manifest,
      id: config.digest as Digest,
      config,
      layers: layerDescs,
      diffIds,
      platform: { os: 'linux', architecture: 'amd64' },
      createdAt: '',
      updatedAt: '',
    };
    images.push(rec);
    return rec;
  }

  const gc = () => collectGarbage({ root, content, snapshotter: snaps, images: async () => images });

  it('keeps everything an image references and removes the rest, reporting bytes freed', async () => {
    await image('a', ['base', 'app']);
    const orphan = await blob('orphan blob');
    const dir = await snaps.stagingDir();
    fs.writeFileSync(path.join(dir, 'x'), 'x'.repeat(5000));
    await snaps.importLayer('sha256:' + 'f'.repeat(64), undefined, dir);
    const r = await gc();
    expect(r.removedBlobs.map((b) => b.digest)).toEqual([orphan.digest]);
    expect(r.removedSnapshots.map((s) => s.name)).toEqual(['sha256:' + 'f'.repeat(64)]);
    expect(r.bytesFreed).toBeGreaterThanOrEqual(orphan.size + 5000);
    expect(await content.has(orphan.digest)).toBe(false);
    expect((await snaps.walk()).length).toBe(2);
  });

  it('layers shared by two images survive removing one of them', async () => {
    await image('a', ['base', 'app']);
    const b = await image('b', ['base', 'other']);
    images = images.filter((i) => i !== b);
    const r = await gc();
    const shared = chainIds([digestOf('diff:base')])[0]!;
    expect(snaps.has(shared)).toBe(true);
    expect(r.removedSnapshots).toHaveLength(1);
    expect(r.removedBlobs.map((x) => x.digest).sort()).toEqual([b.layers[1]!.digest, b.config.digest, b.manifest.digest].sort());
  });

  it("a container's writable snapshot keeps its image layers even after the image is removed", async () => {
    const a = await image('a', ['base', 'app']);
    const top = chainIds(a.diffIds)[1]!;
    await snaps.prepare('ctr', top);
    images = [];
    const r = await gc();
    expect(r.removedSnapshots).toEqual([]);
    expect(snaps.has(top)).toBe(true);
    expect(r.removedBlobs).toHaveLength(4); // the blobs go: the snapshots hold the files
    await snaps.remove('ctr');
    expect((await gc()).removedSnapshots.map((s) => s.name)).toEqual([top, chainIds(a.diffIds)[0]]);
    expect(await snaps.walk()).toEqual([]);
  });

  it('leases protect a pull in progress; the lease of a dead process does not', async () => {
    const d = await blob('in flight');
    const lease = await Lease.acquire(root);
    await lease.add({ digests: [d.digest] });
    expect((await gc()).removedBlobs).toEqual([]);
    await lease.release();
    // A lease left by a process that died.
    fs.writeFileSync(
      path.join(root, 'leases', 'dead.json'),
      JSON.stringify({ id: 'dead', pid: 2 ** 22 + 7, startTime: '1', createdAt: '', digests: [d.digest], snapshots: [] }),
    );
    expect(await liveLeases(root)).toEqual([]);
    expect(fs.existsSync(path.join(root, 'leases', 'dead.json'))).toBe(false);
    expect((await gc()).removedBlobs.map((b) => b.digest)).toEqual([d.digest]);
  });

  it('never removes a blob committed after the collection started', async () => {
    const fresh = await content.putBlob(Buffer.from('just written'));
    expect((await gc()).removedBlobs).toEqual([]);
    expect(await content.has(fresh)).toBe(true);
  });
});
