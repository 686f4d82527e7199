/**
 * `docker save` archives (docker's image/spec v1.2 "combined image JSON + filesystem changeset"):
 *
 *   manifest.json   [{ "Config": "<hex>.json", "RepoTags": ["busybox:latest"], "Layers": ["<id>/layer.tar", …] }]
 *   <hex>.json      the image config (its sha256 is the image id)
 *   <id>/layer.tar  a layer, uncompressed (newer docker writes blobs/sha256/<hex>; gzip/zstd is detected)
 *
 * Reading synthesises a Docker schema 2 manifest for each entry; the config's digest must match its file
 * name when the name is a digest, and each layer's uncompressed digest must be the config's diff ID.
 * Writing produces the classic layout (`<configHex>.json`, `<diffIdHex>/layer.tar` uncompressed,
 * `manifest.json`, `repositories`), which docker, skopeo and podman load.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataLossError, InvalidArgumentError, NotFoundError, invalidField } from '@podkit/errdefs';
import { Descriptor, Digester, ImageManifest, LayerCompression, MediaType, familiarString, layerCompression, parseReference, validateImageConfig, validateImageManifest } from '@podkit/oci-spec';
import { ContentStore } from '../content/store';
import { decompress } from '../unpack/layer';
import { zstdDecompress } from '../zstd/decompress';
import { tarEnd, tarHeader, tarPadding } from '../tar/writer';
import { tarDir, tarFile, writeTarFile } from './oci';
import { BlobSource, SourceImage, TarSource } from './source';

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function parseEntries(buf: Buffer, what: string): DockerManifestEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`${what}: manifest.json is not valid JSON: ${(err as Error).message}`, { details: { field: 'manifest.json' } });
  }
  if (!Array.isArray(doc) || doc.length === 0) throw invalidField('manifest.json', `${what}: must be a non-empty list`);
  doc.forEach((e: unknown, i: number) => {
    const o = e as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw invalidField(`manifest.json[${i}]`, 'must be an object');
    if (typeof o['Config'] !== 'string') throw invalidField(`manifest.json[${i}].Config`, 'must be a path');
    if (!Array.isArray(o['Layers']) || o['Layers'].some((l) => typeof l !== 'string')) throw invalidField(`manifest.json[${i}].Layers`, 'must be a list of paths');
    const tags = o['RepoTags'];
    if (tags !== undefined && tags !== null && (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))) throw invalidField(`manifest.json[${i}].RepoTags`, 'must be a list of names');
  });
  return doc as DockerManifestEntry[];
}

/** Compression of a layer file, from its magic bytes. */
export function sniffCompression(head: Buffer): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

async function* hashed(src: AsyncIterable<Buffer>, d: Digester): AsyncGenerator<Buffer> {
  for await (const c of src) {
    d.update(c);
    yield c;
  }
}

/** A docker-archive as a BlobSource: blobs by digest map to members (or to synthesised manifests). */
export class DockerArchiveSource implements BlobSource {
  private constructor(
    private readonly tar: TarSource,
    readonly images: SourceImage[],
    private readonly members: Map<string, string>,
    private readonly synthetic: Map<string, Buffer>,
  ) {}

  get what(): string {
    return this.tar.what;
  }

  /** Reads manifest.json, hashes every layer once (and checks it against the config's diff IDs). */
  static async open(tar: TarSource): Promise<DockerArchiveSource> {
    const what = tar.what;
    if (!(await tar.has('manifest.json'))) throw new InvalidArgumentError(`${what}: not a docker-archive (no manifest.json)`, { details: { field: 'manifest.json' } });
    const entries = parseEntries(await tar.read('manifest.json', 4 * 1024 * 1024), what);
    const members = new Map<string, string>();
    const synthetic = new Map<string, Buffer>();
    const images: SourceImage[] = [];
    const layerCache = new Map<string, { desc: Descriptor; diffId: string }>();
    for (const [i, e] of entries.entries()) {
      const configBuf = await tar.read(e.Config, 8 * 1024 * 1024);
      const configDigest = new Digester().update(configBuf).digest();
      const named = /([0-9a-f]{64})(\.json)?$/.exec(e.Config);
      if (named && `sha256:${named[1]}` !== configDigest) throw new DataLossError(`${what}: ${e.Config} has digest ${configDigest}, its name says otherwise`, { details: { field: `manifest.json[${i}].Config` } });
      let cfgDoc: unknown;
      try {
        cfgDoc = JSON.parse(configBuf.toString('utf8'));
      } catch {
        throw new InvalidArgumentError(`${what}: ${e.Config} is not JSON`, { details: { field: `manifest.json[${i}].Config` } });
      }
      const config = validateImageConfig(cfgDoc);
      if (config.rootfs.diff_ids.length !== e.Layers.length) throw new InvalidArgumentError(`${what}: ${e.Config} has ${config.rootfs.diff_ids.length} diff_ids for ${e.Layers.length} layers`, { details: { field: 'rootfs.diff_ids' } });
      members.set(configDigest, e.Config);
      const layers: Descriptor[] = [];
      for (const [j, l] of e.Layers.entries()) {
        let info = layerCache.get(l);
        if (!info) {
          info = await DockerArchiveSource.hashLayer(tar, l);
          layerCache.set(l, info);
        }
        const want = config.rootfs.diff_ids[j];
        if (info.diffId !== want) throw new DataLossError(`${what}: layer ${l} has diff ID ${info.diffId}, the config says ${want}`, { details: { field: `rootfs.diff_ids[${j}]` } });
        members.set(info.desc.digest, l);
        layers.push(info.desc);
      }
      const manifest: ImageManifest = validateImageManifest({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifest,
        config: { mediaType: MediaType.DockerConfig, digest: configDigest, size: configBuf.length },
        layers,
      });
      const body = Buffer.from(JSON.stringify(manifest));
      const digest = new Digester().update(body).digest();
      synthetic.set(digest, body);
      const root: Descriptor = { mediaType: MediaType.DockerManifest, digest, size: body.length };
      const tags = e.RepoTags ?? [];
      if (tags.length === 0) images.push({ root });
      for (const t of tags) images.push({ name: t, root });
    }
    return new DockerArchiveSource(tar, images, members, synthetic);
  }

  private static async hashLayer(tar: TarSource, member: string): Promise<{ desc: Descriptor; diffId: string }> {
    let head: Buffer = Buffer.alloc(0);
    for await (const c of tar.stream(member)) {
      head = c.subarray(0, 4);
      break;
    }
    const compression = sniffCompression(head);
    const blob = new Digester();
    const diff = new Digester();
    const raw = hashed(tar.stream(member), blob);
    const plain = compression === 'none' ? raw : compression === 'gzip' ? decompress(raw, 'gzip') : zstdDecompress(raw);
    for await (const c of plain) diff.update(c);
    const mediaType = compression === 'gzip' ? MediaType.DockerLayerGzip : compression === 'zstd' ? MediaType.DockerLayerZstd : MediaType.DockerLayer;
    const blobDigest = blob.digest();
    return { desc: { mediaType, digest: blobDigest, size: blob.size }, diffId: compression === 'none' ? blobDigest : diff.digest() };
  }

  async *open(desc: Descriptor): AsyncGenerator<Buffer> {
    const s = this.synthetic.get(desc.digest);
    if (s) {
      yield s;
      return;
    }
    const m = this.members.get(desc.digest);
    if (!m) throw new NotFoundError(`${this.what}: no blob ${desc.digest}`, { details: { field: 'digest' } });
    yield* this.tar.stream(m);
  }

  async read(desc: Descriptor, max?: number): Promise<Buffer> {
    const s = this.synthetic.get(desc.digest);
    if (s) return s;
    const m = this.members.get(desc.digest);
    if (!m) throw new NotFoundError(`${this.what}: no blob ${desc.digest}`, { details: { field: 'digest' } });
    return this.tar.read(m, max);
  }

  async close(): Promise<void> {
    await this.tar.close();
  }
}

export interface DockerExportImage {
  /** Full reference written to RepoTags (in docker's familiar form), if any. */
  name?: string;
  /** A single-platform image manifest in the store. */
  manifest: Descriptor;
}

/**
 * Writes a docker-archive of one or more images. Layers are written uncompressed (docker's format), so
 * each compressed layer is decompressed once to a temp file (the tar header needs its size first).
 */
export async function exportDockerArchive(content: ContentStore, images: DockerExportImage[], file: string, opts: { tmpDir?: string } = {}): Promise<{ layers: number }> {
  const work = await fsp.mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'podkit-docker-export-'));
  try {
    type Plan = { configName: string; config: Descriptor; layers: Array<{ name: string; desc: Descriptor; diffId: string }>; tags: string[] };
    const plans: Plan[] = [];
    for (const img of images) {
      const m = validateImageManifest(JSON.parse((await content.readBlob(img.manifest.digest)).toString('utf8')));
      const cfg = validateImageConfig(JSON.parse((await content.readBlob(m.config.digest, 8 * 1024 * 1024)).toString('utf8')));
      if (cfg.rootfs.diff_ids.length !== m.layers.length) throw invalidField('rootfs.diff_ids', `image ${img.name ?? img.manifest.digest}: ${cfg.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`);
      const hex = (d: string): string => d.slice(d.indexOf(':') + 1);
      const tags: string[] = [];
      if (img.name) {
        const ref = parseReference(img.name);
        if (ref.tag) tags.push(familiarString({ ...ref, digest: undefined } as typeof ref));
      }
      plans.push({
        configName: `${hex(m.config.digest)}.json`,
        config: m.config,
        layers: m.layers.map((l, i) => ({ name: `${hex(cfg.rootfs.diff_ids[i] ?? '')}/layer.tar`, desc: l, diffId: cfg.rootfs.diff_ids[i] ?? '' })),
        tags,
      });
    }
    // Uncompressed layer files, one per diff ID.
    const plain = new Map<string, { path: string; size: number }>();
    for (const p of plans) {
      for (const l of p.layers) {
        if (plain.has(l.diffId)) continue;
        const compression = layerCompression(l.desc.mediaType);
        if (compression === 'none') {
          plain.set(l.diffId, { path: content.blobPath(l.desc.digest), size: l.desc.size });
          continue;
        }
        const out = path.join(work, crypto.randomBytes(8).toString('hex'));
        const d = new Digester();
        const src = (await content.readStream(l.desc.digest)) as AsyncIterable<Buffer>;
        const ws = fs.createWriteStream(out);
        for await (const c of compression === 'gzip' ? decompress(src, 'gzip') : zstdDecompress(src)) {
          d.update(c);
          if (!ws.write(c)) await new Promise<void>((r) => ws.once('drain', () => r()));
        }
        await new Promise<void>((resolve, reject) => ws.end((err?: Error | null) => (err ? reject(err) : resolve())));
        if (d.digest() !== l.diffId) throw new DataLossError(`layer ${l.desc.digest}: uncompressed digest ${d.digest()} is not the diff ID ${l.diffId}`, { details: { field: 'rootfs.diff_ids' } });
        plain.set(l.diffId, { path: out, size: d.size });
      }
    }
    const manifestJson = Buffer.from(JSON.stringify(plans.map((p) => ({ Config: p.configName, RepoTags: p.tags, Layers: p.layers.map((l) => l.name) }))));
    const repositories: Record<string, Record<string, string>> = {};
    for (const p of plans) {
      const top = p.layers[p.layers.length - 1];
      for (const t of p.tags) {
        const i = t.lastIndexOf(':');
        if (top) (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = top.diffId.slice(top.diffId.indexOf(':') + 1);
      }
    }
    async function* entries(): AsyncGenerator<Buffer> {
      const written = new Set<string>();
      for (const p of plans) {
        if (!written.has(p.configName)) {
          written.add(p.configName);
          yield* tarFile(p.configName, await content.readBlob(p.config.digest, 8 * 1024 * 1024));
        }
        for (const l of p.layers) {
          if (written.has(l.name)) continue;
          written.add(l.name);
          const f = plain.get(l.diffId);
          if (!f) throw new NotFoundError(`layer ${l.diffId}: not prepared`);
          yield tarDir(path.dirname(l.name));
          yield tarHeader({ name: l.name, size: f.size, mode: 0o644, mtime: 0 });
          for await (const c of fs.createReadStream(f.path, { highWaterMark: 256 * 1024 })) yield c as Buffer;
          yield tarPadding(f.size);
        }
      }
      yield* tarFile('manifest.json', manifestJson);
      yield* tarFile('repositories', Buffer.from(JSON.stringify(repositories)));
      yield tarEnd();
    }
    await writeTarFile(file, entries());
    return { layers: plain.size };
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
