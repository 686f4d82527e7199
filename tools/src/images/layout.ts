/**
 * Writes OCI image layouts (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.
 * Layers are built as tar (with image-store's tar writer) and optionally gzip-compressed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { buildTar, TarWriteEntry } from '@podkit/image-store';
import { Descriptor, MediaType, Platform, digestOf } from '@podkit/oci-spec';

export interface BuiltImage {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  diffIds: string[];
}

export class OciLayout {
  private readonly index: Descriptor[] = [];

  constructor(readonly dir: string) {
    fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  addBlob(data: Buffer, mediaType: string): Descriptor {
    const digest = digestOf(data);
    const file = path.join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
    if (!fs.existsSync(file)) fs.writeFileSync(file, data);
    return { mediaType, digest, size: data.length };
  }

  /** A layer from a tar built in memory (compressed with gzip unless `gzip` is false). */
  addLayer(tar: Buffer, gzip: boolean): { desc: Descriptor; diffId: string } {
    const data = gzip ? zlib.gzipSync(tar, { level: 6 }) : tar;
    return { desc: this.addBlob(data, gzip ? MediaType.LayerGzip : MediaType.Layer), diffId: digestOf(tar) };
  }

  addImage(layers: Array<{ desc: Descriptor; diffId: string }>, platform: Platform, config: Record<string, unknown> = {}): BuiltImage {
    const cfg = {
      created: '2024-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], ...config },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `podkit tools layer ${i}` })),
    };
    const configDesc = this.addBlob(Buffer.from(JSON.stringify(cfg)), MediaType.ImageConfig);
    const manifest = { schemaVersion: 2, mediaType: MediaType.ImageManifest, config: configDesc, layers: layers.map((l) => l.desc) };
    const manifestDesc = this.addBlob(Buffer.from(JSON.stringify(manifest)), MediaType.ImageManifest);
    return { manifest: manifestDesc, config: configDesc, layers: layers.map((l) => l.desc), diffIds: layers.map((l) => l.diffId) };
  }

  addIndex(manifests: Array<{ image: BuiltImage; platform: Platform }>): Descriptor {
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: manifests.map((m) => ({ ...m.image.manifest, platform: m.platform })),
    };
    return this.addBlob(Buffer.from(JSON.stringify(index)), MediaType.ImageIndex);
  }

  /** Names a manifest or index in index.json (`org.opencontainers.image.ref.name`). */
  tag(desc: Descriptor, tag: string): void {
    this.index.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } });
    fs.writeFileSync(path.join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: this.index }));
  }
}

export function tarOf(entries: TarWriteEntry[]): Buffer {
  return buildTar(entries);
}
