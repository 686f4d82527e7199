/**
 * A zstd layer image and its gzip twin (same tars) pulled from a registry and unpacked: the trees are
 * the same. The zstd blobs are made with the zstd CLI; one of them in the zstd:chunked shape (several
 * frames and a skippable frame at the end), which podkit reads as plain zstd.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { MediaType, digestOf } from '@podkit/oci-spec';
import { ImageStore } from '../images/store';
import { FakeRegistry } from '../test-support/fake-registry';
import { buildTar } from '../tar/writer';
import { unpackRootfs } from '../unpack/bundle';

const haveZstd = spawnSync('zstd', ['--version']).status === 0;
const suite = haveZstd ? describe : describe.skip;
if (!haveZstd) console.warn('zstd unpack test skipped: the zstd CLI (Debian package zstd) is missing');

function zstd(data: Buffer): Buffer {
  const r = spawnSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout;
}

function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      const st = fs.lstatSync(path.join(root, r));
      if (e.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(r);
      } else if (e.isSymbolicLink()) out[r] = `link ${fs.readlinkSync(path.join(root, r))}`;
      else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${crypto.createHash('sha256').update(fs.readFileSync(path.join(root, r))).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

suite('zstd layers', () => {
  let dir: string;
  let reg: FakeRegistry;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-zstd-'));
    reg = new FakeRegistry();
    await reg.start();
  });
  afterAll(async () => {
    await reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('unpack the same as their gzip twins (zstd and zstd:chunked shapes)', async () => {
    const tars = [
      buildTar([{ name: 'bin/', type: 'dir' }, { name: 'bin/app', data: crypto.randomBytes(300_000), mode: 0o755 }, { name: 'bin/link', type: 'symlink', linkname: 'app' }]),
      buildTar([{ name: 'etc/', type: 'dir' }, { name: 'etc/motd', data: 'hello zstd\n'.repeat(5000) }]),
    ];
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: tars.map((t) => digestOf(t)) } }));
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0]), Buffer.from('toc!')]);
    const t1 = tars[1] as Buffer;
    const zstdBlobs = [zstd(tars[0] as Buffer), Buffer.concat([zstd(t1.subarray(0, 20_000)), zstd(t1.subarray(20_000)), skippable])];
    const images: Record<string, Buffer[]> = { gzip: tars.map((t) => zlib.gzipSync(t)), zstd: zstdBlobs };
    const configDesc = reg.addBlob(config, MediaType.ImageConfig);
    for (const [tag, blobs] of Object.entries(images)) {
      const layers = blobs.map((b) => reg.addBlob(b, tag === 'gzip' ? MediaType.LayerGzip : MediaType.LayerZstd));
      reg.addManifest('lib/z', { schemaVersion: 2, mediaType: MediaType.ImageManifest, config: configDesc, layers }, MediaType.ImageManifest, tag);
    }
    const store = await ImageStore.open(path.join(dir, 'store'));
    try {
      const trees: Record<string, Record<string, string>> = {};
      for (const tag of ['gzip', 'zstd']) {
        const rec = await store.pull(`${reg.host}/lib/z:${tag}`);
        expect(rec.layers.map((l) => l.mediaType)).toEqual(tag === 'zstd' ? [MediaType.LayerZstd, MediaType.LayerZstd] : [MediaType.LayerGzip, MediaType.LayerGzip]);
        const rootfs = path.join(dir, `rootfs-${tag}`);
        fs.mkdirSync(rootfs);
        await unpackRootfs(store, rec, rootfs);
        trees[tag] = tree(rootfs);
      }
      expect(Object.keys(trees['zstd'] ?? {})).toEqual(expect.arrayContaining(['bin/app', 'bin/link', 'etc/motd']));
      expect(trees['zstd']).toEqual(trees['gzip']);
    } finally {
      await store.close();
    }
  });
});
