/**
 * Images: names (references) → manifests, with the image id = the config digest. Pull resolves a
 * reference, picks the platform from an index, stores manifest and config, and downloads layers in
 * parallel (bounded), each one written to the content store and - unless disabled - extracted at the
 * same time into an overlay layer directory `layers/<alg>/<diffID>`. Concurrent pulls share downloads:
 * in this process through a map of in-flight blobs, across processes through the ingestion lock.
 *
 * Layout under the root: `content/` (ContentStore), `images/<sha256(name)>.json`, `layers/`.
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import {
  DataLossError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  isDataLoss,
  isNotFound,
  invalidField,
  isUnavailable,
} from '@podkit/errdefs';
import {
  Descriptor,
  Digest,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  Platform,
  Reference,
  defaultPlatform,
  formatPlatform,
  formatReference,
  isIndexMediaType,
  isManifestMediaType,
  layerCompression,
  parseDigest,
  parseReference,
  selectPlatform,
  validateImageConfig,
  validateImageIndex,
  validateImageManifest,
} from '@podkit/oci-spec';
import { ContentStore, ContentWriter } from '../content/store';
import { exists, readJsonOrUndefined, writeFileAtomic } from '../fsutil';
import { RegistryClient, RegistryClientOptions } from '../registry/client';
import { unpackLayerStream } from '../unpack/layer';
import { ImageRecord, PullEvent } from './types';

export interface PullOptions {
  platform?: Platform;
  /** Extract layers into overlay layer directories while downloading (default true). */
  unpack?: boolean;
  /** Layers downloaded at once (default 3). */
  concurrency?: number;
  onProgress?: (e: PullEvent) => void;
}

export interface ImageStoreOptions extends RegistryClientOptions {
  /** Largest image config accepted (default 8 MiB). */
  maxConfigSize?: number;
  /** How long to wait for another process that downloads the same blob (default 10 min). */
  lockWaitMs?: number;
}

function nameKey(name: string): string {
  return crypto.createHash('sha256').update(name).digest('hex');
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`${what}: not valid JSON: ${(err as Error).message}`, { details: { field: what } });
  }
}

/** Runs `fn` over `items` with at most `n` at a time; the first failure rejects (others finish). */
async function bounded<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failure !== undefined) throw failure;
}

export class ImageStore {
  readonly client: RegistryClient;
  private readonly inflightBlobs = new Map<string, Promise<void>>();
  private readonly inflightPulls = new Map<string, Promise<ImageRecord>>();

  private constructor(
    readonly root: string,
    readonly content: ContentStore,
    private readonly opts: ImageStoreOptions,
  ) {
    this.client = new RegistryClient(opts);
  }

  static async open(root: string, opts: ImageStoreOptions = {}): Promise<ImageStore> {
    await fsp.mkdir(path.join(root, 'images'), { recursive: true, mode: 0o700 });
    await fsp.mkdir(path.join(root, 'layers', 'sha256'), { recursive: true, mode: 0o700 });
    const content = await ContentStore.open(path.join(root, 'content'));
    await ImageStore.removeStaleStaging(path.join(root, 'layers', 'sha256'));
    return new ImageStore(root, content, opts);
  }

  /**
   * Removes layer staging directories (`<diffID>.extract-<pid>-<rand>`, `<diffID>.remove-<pid>-<rand>`)
   * left by a process that died (kill -9 during a pull or a remove). Those of live processes stay.
   */
  private static async removeStaleStaging(dir: string): Promise<void> {
    for (const name of await fsp.readdir(dir)) {
      const m = /\.(?:extract|remove)-(\d+)-[0-9a-f]+$/.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      let alive = pid === process.pid;
      if (!alive) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (!alive) await fsp.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** The overlay layer directory of a diff ID (exists once the layer was extracted). */
  layerDir(diffId: string): string {
    const { algorithm, encoded } = parseDigest(diffId);
    return path.join(this.root, 'layers', algorithm, encoded);
  }

  private recordPath(name: string): string {
    return path.join(this.root, 'images', `${nameKey(name)}.json`);
  }

  /** Pulls `reference` (concurrent pulls of the same reference share one pull). */
  pull(reference: string, opts: PullOptions = {}): Promise<ImageRecord> {
    const ref = parseReference(reference);
    const c = opts.concurrency;
    if (c !== undefined && (!Number.isInteger(c) || c < 1 || c > 64)) {
      return Promise.reject(invalidField('concurrency', `must be an integer from 1 to 64, got ${c}`));
    }
    const key = `${formatReference(ref)}|${formatPlatform(opts.platform ?? defaultPlatform())}|${opts.unpack !== false}`;
    let p = this.inflightPulls.get(key);
    if (!p) {
      p = this.doPull(ref, opts).finally(() => this.inflightPulls.delete(key));
      this.inflightPulls.set(key, p);
    }
    return p;
  }

  private async doPull(ref: Reference, opts: PullOptions): Promise<ImageRecord> {
    const name = formatReference(ref);
    const emit = opts.onProgress ?? (() => undefined);
    const resolved = await this.client.resolve(ref);
    emit({ type: 'resolved', name, digest: resolved.descriptor.digest as Digest, mediaType: resolved.descriptor.mediaType });
    const target: Descriptor = resolved.descriptor;
    let manifestDesc = target;
    let manifestBody = resolved.body;
    const want = opts.platform ?? defaultPlatform();
    if (isIndexMediaType(target.mediaType)) {
      const index: ImageIndex = validateImageIndex(parseJson(resolved.body, 'index'));
      const chosen = selectPlatform(index.manifests, want);
      if (!chosen) {
        const have = index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : '?')).join(', ');
        throw new NotFoundError(`${name}: no manifest for platform ${formatPlatform(want)} (the index has ${have})`, { details: { field: 'platform' } });
      }
      await this.content.putBlob(resolved.body, target.digest);
      const m = await this.client.fetchManifest(ref, chosen.digest, chosen);
      manifestDesc = { ...chosen, mediaType: chosen.mediaType ?? m.descriptor.mediaType };
      manifestBody = m.body;
    } else if (!isManifestMediaType(target.mediaType)) {
      throw new InvalidArgumentError(`${name}: unsupported manifest media type ${JSON.stringify(target.mediaType)}`, { details: { field: 'mediaType' } });
    }
    const manifest: ImageManifest = validateImageManifest(parseJson(manifestBody, 'manifest'));
    await this.content.putBlob(manifestBody, manifestDesc.digest);

    const maxConfig = this.opts.maxConfigSize ?? 8 * 1024 * 1024;
    if (manifest.config.size > maxConfig) throw new InvalidArgumentError(`${name}: config of ${manifest.config.size} bytes exceeds the limit of ${maxConfig}`, { details: { field: 'config.size' } });
    await this.fetchBlob(ref, manifest.config, emit, undefined);
    const config: ImageConfig = validateImageConfig(parseJson(await this.content.readBlob(manifest.config.digest, maxConfig), 'config'));
    const diffIds = config.rootfs.diff_ids as Digest[];
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidArgumentError(`${name}: the config has ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { details: { field: 'rootfs.diff_ids' } });
    }
    const work = manifest.layers.map((l, i) => ({ desc: l, diffId: diffIds[i] as Digest }));
    for (const w of work) emit({ type: 'layer', digest: w.desc.digest as Digest, status: 'waiting', done: 0, total: w.desc.size });
    await bounded(work, opts.concurrency ?? 3, (w) => this.fetchBlob(ref, w.desc, emit, opts.unpack === false ? undefined : w.diffId));

    const now = new Date().toISOString();
    const old = await readJsonOrUndefined<ImageRecord>(this.recordPath(name));
    const record: ImageRecord = {
      name,
      target,
      manifest: { mediaType: manifestDesc.mediaType, digest: manifestDesc.digest, size: manifestDesc.size },
      id: manifest.config.digest as Digest,
      config: manifest.config,
      layers: manifest.layers,
      diffIds,
      platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
    };
    await writeFileAtomic(this.recordPath(name), JSON.stringify(record, null, 2));
    emit({ type: 'done', name, id: record.id });
    // A re-pull that moved the name: what only the old image referenced is garbage now.
    if (old && old.target.digest !== record.target.digest) await this.collect(old);
    return record;
  }

  /** Ensures a blob is in the content store (and its layer extracted when `diffId` is given). */
  private fetchBlob(ref: Reference, desc: Descriptor, emit: (e: PullEvent) => void, diffId: Digest | undefined): Promise<void> {
    const key = `${desc.digest}|${diffId ?? ''}`;
    let p = this.inflightBlobs.get(key);
    if (!p) {
      p = this.doFetchBlob(ref, desc, emit, diffId).finally(() => this.inflightBlobs.delete(key));
      this.inflightBlobs.set(key, p);
    }
    return p;
  }

  private async doFetchBlob(ref: Reference, desc: Descriptor, emit: (e: PullEvent) => void, diffId: Digest | undefined): Promise<void> {
    const digest = desc.digest as Digest;
    const layerReady = diffId === undefined || (await exists(this.layerDir(diffId)));
    if ((await this.content.has(digest)) && layerReady) {
      emit({ type: 'layer', digest, status: 'exists', done: desc.size, total: desc.size });
      return;
    }
    if ((await this.content.has(digest)) && diffId !== undefined) {
      // Downloaded before, not extracted yet: extract from the store.
      await this.extract(desc, diffId, (await this.content.readStream(digest)) as AsyncIterable<Buffer>);
      emit({ type: 'layer', digest, status: 'done', done: desc.size, total: desc.size });
      return;
    }
    let writer: ContentWriter;
    try {
      writer = await this.content.writer(`blob-${digest}`, { expected: { digest, size: desc.size }, waitMs: this.opts.lockWaitMs ?? 600_000 });
    } catch (err) {
      if (isUnavailable(err) && (await this.content.has(digest))) return this.doFetchBlob(ref, desc, emit, diffId);
      throw err;
    }
    if (await this.content.has(digest)) {
      // Another process committed it while we waited for the lock.
      await writer.close();
      return this.doFetchBlob(ref, desc, emit, diffId);
    }
    const resumedAt = writer.offset;
    emit({ type: 'layer', digest, status: resumedAt > 0 ? 'resuming' : 'downloading', done: resumedAt, total: desc.size });
    const client = this.client;
    let done = resumedAt;
    async function* source(): AsyncGenerator<Buffer> {
      if (diffId !== undefined && resumedAt > 0) yield* writer.readPrefix();
      for await (const chunk of client.blob(ref, desc, resumedAt)) {
        await writer.write(chunk);
        done += chunk.length;
        emit({ type: 'layer', digest, status: 'downloading', done, total: desc.size });
        yield chunk;
      }
    }
    try {
      if (diffId !== undefined) {
        await this.extract(desc, diffId, source());
      } else {
        for await (const _ of source()) {
          /* stored by source() */
        }
      }
      await writer.commit(desc.size, digest);
    } catch (err) {
      // Keep what was downloaded for a later resume, unless the bytes themselves are wrong.
      if (isDataLoss(err)) await writer.abort().catch(() => undefined);
      else await writer.close().catch(() => undefined);
      throw err;
    }
    emit({ type: 'layer', digest, status: 'done', done: desc.size, total: desc.size });
  }

  /** Extracts a layer into its overlay directory (staging dir, then rename: never half-written). */
  private async extract(desc: Descriptor, diffId: Digest, src: AsyncIterable<Buffer>): Promise<void> {
    const dir = this.layerDir(diffId);
    const staging = `${dir}.extract-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    await fsp.mkdir(staging, { mode: 0o755 });
    try {
      await unpackLayerStream(src, layerCompression(desc.mediaType), staging, { target: 'overlay', expectedDiffId: diffId });
      try {
        await fsp.rename(staging, dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await fsp.rm(staging, { recursive: true, force: true }); // extracted by someone else meanwhile
      }
    } catch (err) {
      await fsp.rm(staging, { recursive: true, force: true });
      throw err;
    }
  }

  /** Every image record. */
  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const f of await fsp.readdir(path.join(this.root, 'images'))) {
      if (!f.endsWith('.json') || f.startsWith('.')) continue;
      const r = await readJsonOrUndefined<ImageRecord>(path.join(this.root, 'images', f));
      if (r) out.push(r);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Finds an image by reference, by full id (`sha256:…`) or by a unique id prefix (≥ 12 hex). */
  async get(refOrId: string): Promise<ImageRecord> {
    const hex = refOrId.replace(/^sha256:/, '');
    if (/^[0-9a-f]{12,64}$/.test(hex)) {
      const matches = (await this.list()).filter((r) => r.id.slice('sha256:'.length).startsWith(hex));
      const ids = new Set(matches.map((m) => m.id));
      const only = matches[0];
      if (ids.size === 1 && only) return only;
      if (ids.size > 1) throw new FailedPreconditionError(`image id prefix ${refOrId} is ambiguous`, { details: { field: 'reference' } });
    }
    const name = formatReference(parseReference(refOrId));
    const r = await readJsonOrUndefined<ImageRecord>(this.recordPath(name));
    if (!r) throw new NotFoundError(`image ${refOrId}: not found`, { details: { field: 'reference' } });
    return r;
  }

  /** The config of an image. */
  async config(record: ImageRecord): Promise<ImageConfig> {
    return validateImageConfig(parseJson(await this.content.readBlob(record.config.digest, this.opts.maxConfigSize ?? 8 * 1024 * 1024), 'config'));
  }

  /** Removes an image name; blobs and layer directories no other image references are removed too. */
  async remove(refOrId: string): Promise<{ removed: ImageRecord; blobs: Digest[]; layers: Digest[] }> {
    const record = await this.get(refOrId);
    await fsp.rm(this.recordPath(record.name), { force: true });
    const { blobs, layers } = await this.collect(record);
    return { removed: record, blobs, layers };
  }

  private async collect(gone: ImageRecord): Promise<{ blobs: Digest[]; layers: Digest[] }> {
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    for (const r of await this.list()) {
      for (const d of [r.target, r.manifest, r.config, ...r.layers]) keepBlobs.add(d.digest);
      for (const d of r.diffIds) keepLayers.add(d);
    }
    const blobs: Digest[] = [];
    for (const d of new Set([gone.target.digest, gone.manifest.digest, gone.config.digest, ...gone.layers.map((l) => l.digest)])) {
      if (keepBlobs.has(d)) continue;
      try {
        await this.content.delete(d);
        blobs.push(d as Digest);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const layers: Digest[] = [];
    for (const d of new Set(gone.diffIds)) {
      if (keepLayers.has(d)) continue;
      const dir = this.layerDir(d);
      if (await exists(dir)) {
        // Rename first so a half-removed directory never looks like an extracted layer.
        const trash = `${dir}.remove-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
        await fsp.rename(dir, trash);
        await fsp.rm(trash, { recursive: true, force: true });
        layers.push(d);
      }
    }
    return { blobs, layers };
  }

  /** Reads a layer blob and checks the bytes against the descriptor's digest as they stream. */
  async *layerBlob(desc: Descriptor): AsyncGenerator<Buffer> {
    const { algorithm } = parseDigest(desc.digest);
    const h = crypto.createHash(algorithm);
    let n = 0;
    for await (const c of (await this.content.readStream(desc.digest)) as AsyncIterable<Buffer>) {
      h.update(c);
      n += c.length;
      yield c;
    }
    const got = `${algorithm}:${h.digest('hex')}`;
    if (got !== desc.digest || n !== desc.size) throw new DataLossError(`content ${desc.digest}: stored blob is corrupt (${n} bytes, digest ${got})`);
  }
}
