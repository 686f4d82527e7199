/**
 * A large generated image for benchmarks: `layers` gzip layers of about `layerBytes` uncompressed each,
 * made of files with compressible pseudo-random text (deterministic), so gzip does real work.
 * Layers are written to disk as they are built, never held whole beyond one layer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tarEnd, tarHeader, tarPadding } from '@podkit/image-store';
import { Descriptor, Digester, MediaType } from '@podkit/oci-spec';
import { BuiltImage, OciLayout } from './layout';

function* prng(seed: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua container layer overlay registry digest manifest'.split(' ');

function fileData(rand: Generator<number>, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let i = 0;
  while (i < size) {
    const r = rand.next().value as number;
    if (r % 4 === 0) {
      // a run of random bytes, so the data is not too compressible
      for (let k = 0; k < 24 && i < size; k++) b[i++] = (rand.next().value as number) & 0xff;
    } else {
      const w = WORDS[r % WORDS.length] ?? 'x';
      i += b.write(`${w} `, i, Math.min(w.length + 1, size - i), 'latin1');
    }
  }
  return b;
}

/** Builds a generated image into `layout`; returns it. */
export async function buildGeneratedImage(layout: OciLayout, opts: { layers?: number; layerBytes?: number; fileBytes?: number } = {}): Promise<BuiltImage> {
  const nLayers = opts.layers ?? 5;
  const layerBytes = opts.layerBytes ?? 40 * 1024 * 1024;
  const fileBytes = opts.fileBytes ?? 256 * 1024;
  const layers: Array<{ desc: Descriptor; diffId: string }> = [];
  for (let l = 0; l < nLayers; l++) {
    const rand = prng(1234 + l);
    const tmp = path.join(layout.dir, `layer-${l}.tmp`);
    const out = fs.createWriteStream(tmp);
    const gz = zlib.createGzip({ level: 6 });
    const comp = new Digester();
    let compSize = 0;
    gz.on('data', (c: Buffer) => {
      comp.update(c);
      compSize += c.length;
    });
    gz.pipe(out);
    const diff = new Digester();
    const write = (b: Buffer): Promise<void> =>
      new Promise((resolve) => {
        diff.update(b);
        if (gz.write(b)) resolve();
        else gz.once('drain', resolve);
      });
    await write(tarHeader({ name: `layer${l}/`, type: 'dir', mode: 0o755, mtime: 1_700_000_000 }));
    let written = 0;
    for (let f = 0; written < layerBytes; f++) {
      const size = Math.min(fileBytes, layerBytes - written);
      const data = fileData(rand, size);
      await write(tarHeader({ name: `layer${l}/dir${f % 16}/file-${f}.dat`, mode: 0o644, mtime: 1_700_000_000, size }));
      await write(data);
      await write(tarPadding(size));
      written += size;
      if (f % 16 === 0 && f < 16) await write(tarHeader({ name: `layer${l}/dir${f % 16}/`, type: 'dir', mode: 0o755, mtime: 1_700_000_000 }));
    }
    await write(tarEnd());
    await new Promise<void>((resolve, reject) => {
      out.on('finish', resolve);
      out.on('error', reject);
      gz.end();
    });
    const digest = comp.digest();
    fs.renameSync(tmp, path.join(layout.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    layers.push({ desc: { mediaType: MediaType.LayerGzip, digest, size: compSize }, diffId: diff.digest() });
  }
  return layout.addImage(layers, { os: 'linux', architecture: 'amd64' }, { Cmd: ['/bin/sh'] });
}
