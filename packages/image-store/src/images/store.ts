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
  isFailedPrecondition,
  NotFoundError,
  isDataLoss,
  isNotFound,
  invalidField,
  isUnavailable,
  isPodkitError,
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
import { ContentStore, ContentWriter, WRITE_BATCH } from '../content/store';
import { exists, readJsonOrUndefined, writeFileAtomic } from '../fsutil';
import { RegistryClient, RegistryClientOptions } from '../registry/client';
import type { PullSource } from '../layout/pull-source';
import { LayerResult, unpackLayerStream, usesLayerPipe } from '../unpack/layer';
import { Lease } from '../gc/leases';
import { collectGarbage, GcReport } from '../gc/collect';
import { chainIds } from '../snapshot/chain';
import { LayerImport, OverlaySnapshotter, dirUsageSync } from '../snapshot/overlay';
import type { Usage } from '../snapshot/types';
import type { MountDescriptor } from '../snapshot/mount-descriptor';
import { ImageRecord, PullEvent } from './types';
import { bounded } from '../bounded';
import { rebatch } from '../rebatch';

/** Label on a layer snapshot: the layer's diff ID (its name is the chain ID). */
export const DIFF_ID_LABEL = 'podkit.io/diff-id';

/** A layer extracted into a staging directory, waiting to be committed as a snapshot. */
interface Staged {
  dir: string;
  usage: Usage;
}

/** A layer to extract while its blob downloads: its diff ID and the chain ID naming its snapshot. */
interface LayerTarget {
  diffId: Digest;
  chainId: string;
}

export interface PullOptions {
  platform?: Platform;
  /** Extract layers into overlay layer directories while downloading (default true). */
  unpack?: boolean;
  /** Layers downloaded at once (default 3). */
  concurrency?: number;
  onProgress?: (e: PullEvent) => void;
  /** Read from this instead of the registry (an import from a layout or archive); the reference is only the name. */
  source?: PullSource;
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

export class ImageStore {
  readonly client: RegistryClient;
  private readonly inflightBlobs = new Map<string, Promise<Staged | undefined>>();
  private readonly inflightPulls = new Map<string, Promise<ImageRecord>>();

  private constructor(
    readonly root: string,
    readonly content: ContentStore,
    /** The overlay snapshotter holding every unpacked layer (named by chain ID) and containers' snapshots. */
    readonly snapshotter: OverlaySnapshotter,
    private readonly opts: ImageStoreOptions,
  ) {
    this.client = new RegistryClient(opts);
  }

  static async open(root: string, opts: ImageStoreOptions = {}): Promise<ImageStore> {
    await fsp.mkdir(path.join(root, 'images'), { recursive: true, mode: 0o700 });
    const content = await ContentStore.open(path.join(root, 'content'));
    // Layers are extracted into the snapshotter's staging area and moved in as committed snapshots;
    // its open() removes what a dead process left there.
    const snapshotter = await OverlaySnapshotter.open(path.join(root, 'snapshots'));
    return new ImageStore(root, content, snapshotter, opts);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** The directory holding an unpacked layer's files: the committed snapshot named by its chain ID. */
  layerDir(chainId: string): string {
    return this.snapshotter.fsDir(chainId);
  }

  /** The chain IDs of an image's layers, bottom first; the last one names its top layer snapshot. */
  chainIds(record: ImageRecord): string[] {
    return chainIds(record.diffIds);
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
    // The lease keeps what this pull writes safe from a concurrent GC until the image record exists.
    const lease = await Lease.acquire(this.root);
    try {
      return await this.doPullLeased(ref, opts, lease);
    } finally {
      await lease.release();
    }
  }

  private async doPullLeased(ref: Reference, opts: PullOptions, lease: Lease): Promise<ImageRecord> {
    const name = formatReference(ref);
    const emit = opts.onProgress ?? (() => undefined);
    const client: PullSource = opts.source ?? this.client;
    const resolved = await client.resolve(ref);
    emit({ type: 'resolved', name, digest: resolved.descriptor.digest as Digest, mediaType: resolved.descriptor.mediaType });
    const target: Descriptor = resolved.descriptor;
    await lease.add({ digests: [target.digest] });
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
      await lease.add({ digests: [chosen.digest] });
      const m = await client.fetchManifest(ref, chosen.digest, chosen);
      manifestDesc = { ...chosen, mediaType: chosen.mediaType ?? m.descriptor.mediaType };
      manifestBody = m.body;
    } else if (!isManifestMediaType(target.mediaType)) {
      throw new InvalidArgumentError(`${name}: unsupported manifest media type ${JSON.stringify(target.mediaType)}`, { details: { field: 'mediaType' } });
    }
    const manifest: ImageManifest = validateImageManifest(parseJson(manifestBody, 'manifest'));
    await lease.add({ digests: [manifestDesc.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)] });
    const maxConfig = this.opts.maxConfigSize ?? 8 * 1024 * 1024;
    if (manifest.config.size > maxConfig) throw new InvalidArgumentError(`${name}: config of ${manifest.config.size} bytes exceeds the limit of ${maxConfig}`, { details: { field: 'config.size' } });
    // Storing the manifest (two fsyncs) overlaps the config's download; both settle before going on.
    const [fetched, stored] = await Promise.allSettled([this.fetchBlob(ref, manifest.config, emit, undefined, client), this.content.putBlob(manifestBody, manifestDesc.digest)]);
    if (fetched.status === 'rejected') throw fetched.reason;
    if (stored.status === 'rejected') throw stored.reason;
    const config: ImageConfig = validateImageConfig(parseJson(await this.content.readBlob(manifest.config.digest, maxConfig), 'config'));
    const diffIds = config.rootfs.diff_ids as Digest[];
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidArgumentError(`${name}: the config has ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { details: { field: 'rootfs.diff_ids' } });
    }
    const chains = chainIds(diffIds);
    await lease.add({ snapshots: chains });
    const work = manifest.layers.map((l, i) => ({ desc: l, layer: { diffId: diffIds[i] as Digest, chainId: chains[i] as string } }));
    for (const w of work) emit({ type: 'layer', digest: w.desc.digest as Digest, status: 'waiting', done: 0, total: w.desc.size });
    // Layers download and extract in parallel, each into its own staging directory; they become
    // committed snapshots afterwards, in chain order (a snapshot's parent must exist first).
    const staged = new Map<string, Staged>();
    await bounded(work, opts.concurrency ?? 3, async (w) => {
      const st = await this.fetchBlob(ref, w.desc, emit, opts.unpack === false ? undefined : w.layer, client);
      if (st !== undefined) staged.set(w.layer.chainId, st);
    });
    if (opts.unpack !== false) await this.commitLayers(work, staged);

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

  /**
   * Ensures a blob is in the content store and, when `layer` is given, its layer extracted: returns the
   * staging directory it was extracted into, or undefined when its snapshot already exists.
   */
  private fetchBlob(ref: Reference, desc: Descriptor, emit: (e: PullEvent) => void, layer: LayerTarget | undefined, client: PullSource = this.client): Promise<Staged | undefined> {
    const key = `${desc.digest}|${layer?.chainId ?? ''}`;
    let p = this.inflightBlobs.get(key);
    if (!p) {
      p = this.doFetchBlob(ref, desc, emit, layer, client).finally(() => this.inflightBlobs.delete(key));
      this.inflightBlobs.set(key, p);
    }
    return p;
  }

  private async doFetchBlob(ref: Reference, desc: Descriptor, emit: (e: PullEvent) => void, layer: LayerTarget | undefined, client: PullSource = this.client): Promise<Staged | undefined> {
    const digest = desc.digest as Digest;
    const layerReady = layer === undefined || this.snapshotter.has(layer.chainId);
    if ((await this.content.has(digest)) && layerReady) {
      emit({ type: 'layer', digest, status: 'exists', done: desc.size, total: desc.size });
      return undefined;
    }
    if ((await this.content.has(digest)) && layer !== undefined) {
      // Downloaded before, not extracted yet: extract from the store.
      const st = await this.extract(desc, layer, (await this.content.readStream(digest)) as AsyncIterable<Buffer>);
      emit({ type: 'layer', digest, status: 'done', done: desc.size, total: desc.size });
      return st;
    }
    let writer: ContentWriter;
    try {
      writer = await this.content.writer(`blob-${digest}`, { expected: { digest, size: desc.size }, waitMs: this.opts.lockWaitMs ?? 600_000 });
    } catch (err) {
      if (isUnavailable(err) && (await this.content.has(digest))) return this.doFetchBlob(ref, desc, emit, layer, client);
      throw err;
    }
    if (await this.content.has(digest)) {
      // Another process committed it while we waited for the lock.
      await writer.close();
      return this.doFetchBlob(ref, desc, emit, layer, client);
    }
    const resumedAt = writer.offset;
    emit({ type: 'layer', digest, status: resumedAt > 0 ? 'resuming' : 'downloading', done: resumedAt, total: desc.size });
    let done = resumedAt;
    async function* source(): AsyncGenerator<Buffer> {
      if (layer !== undefined && resumedAt > 0) yield* writer.readPrefix();
      // Whole batches go to the store (written without a copy) and on to the extractor; a batch is
      // written to the store while the extractor already decompresses it.
      let pending: Promise<void> = Promise.resolve();
      try {
        for await (const batch of rebatch(client.blob(ref, desc, resumedAt), WRITE_BATCH)) {
          await pending;
          pending = writer.write(batch);
          pending.catch(() => undefined); // surfaces at the next await of it
          done += batch.length;
          emit({ type: 'layer', digest, status: 'downloading', done, total: desc.size });
          yield batch;
        }
      } finally {
        // Also when the extractor stops early: the writer must be idle before it is closed.
        await pending;
      }
    }
    /**
     * For the native layer pipe: network chunks as they come (the pipe's thread appends them to the
     * ingestion file and hashes them, see ContentWriter.delegate), the stored prefix of a resumed
     * download first. Progress is reported per MiB.
     */
    async function* delegated(): AsyncGenerator<Buffer> {
      if (resumedAt > 0) yield* writer.readPrefix();
      let reported = done;
      for await (const chunk of client.blob(ref, desc, resumedAt)) {
        done += chunk.length;
        if (done > desc.size) throw new DataLossError(`blob ${digest}: more than the expected ${desc.size} bytes`, { details: { field: 'size' } });
        if (done - reported >= WRITE_BATCH) {
          reported = done;
          emit({ type: 'layer', digest, status: 'downloading', done, total: desc.size });
        }
        yield chunk;
      }
    }
    let st: Staged | undefined;
    try {
      if (layer !== undefined && digest.startsWith('sha256:') && usesLayerPipe(layerCompression(desc.mediaType), layer.diffId)) {
        await writer.flush();
        writer.delegate();
        const ingest = { fd: writer.fd, keep: resumedAt };
        st = await this.extract(desc, layer, delegated(), (r) => writer.commit(desc.size, digest, undefined, r.compressed), ingest);
      } else if (layer !== undefined) {
        st = await this.extract(desc, layer, source(), () => writer.commit(desc.size, digest));
      } else {
        for await (const _ of source()) {
          /* stored by source() */
        }
        await writer.commit(desc.size, digest);
      }
    } catch (err) {
      // Keep what was downloaded for a later resume, unless the bytes themselves are wrong.
      if (isDataLoss(err)) await writer.abort().catch(() => undefined);
      else await writer.close().catch(() => undefined);
      throw err;
    }
    emit({ type: 'layer', digest, status: 'done', done: desc.size, total: desc.size });
    return st;
  }

  /**
   * Extracts a layer into a fresh staging directory of the snapshotter (removed again on failure) and
   * measures it for its snapshot record; `then` (committing the blob) runs during the measuring.
   */
  private async extract(desc: Descriptor, layer: LayerTarget, src: AsyncIterable<Buffer>, then?: (r: LayerResult) => Promise<unknown>, ingest?: { fd: number; keep: number }): Promise<Staged> {
    const staging = await this.snapshotter.stagingDir();
    try {
      const r = await unpackLayerStream(src, layerCompression(desc.mediaType), staging, { target: 'overlay', expectedDiffId: layer.diffId, ...(ingest ? { ingest } : {}) });
      const pending = then?.(r);
      const usage = dirUsageSync(staging);
      await pending;
      return { dir: staging, usage };
    } catch (err) {
      await fsp.rm(staging, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Moves extracted layers in as committed snapshots, bottom first, in one snapshot transaction; layers
   * that exist already are skipped.
   */
  private async commitLayers(work: Array<{ desc: Descriptor; layer: LayerTarget }>, staged: Map<string, Staged>): Promise<void> {
    const batch: LayerImport[] = [];
    try {
      let parent: string | undefined;
      for (const { desc, layer } of work) {
        const myParent = parent;
        parent = layer.chainId;
        if (this.snapshotter.has(layer.chainId)) continue;
        // Staged by this pull, or (when another pull committed then removed it meanwhile) extracted again.
        let st = staged.get(layer.chainId);
        staged.delete(layer.chainId);
        if (st === undefined || !(await exists(st.dir))) {
          st = await this.extract(desc, layer, (await this.content.readStream(desc.digest)) as AsyncIterable<Buffer>);
        }
        batch.push({ name: layer.chainId, ...(myParent !== undefined ? { parent: myParent } : {}), dir: st.dir, usage: st.usage, labels: { [DIFF_ID_LABEL]: layer.diffId } });
      }
      // A layer a concurrent pull (this process or another) committed first is skipped: that is fine.
      await this.snapshotter.importLayers(batch);
    } finally {
      // Whatever was not moved into the store: skipped, or left by a failure.
      for (const { dir } of [...staged.values(), ...batch]) await fsp.rm(dir, { recursive: true, force: true });
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

  /**
   * Removes an image name; the blobs and layer snapshots no other image references are removed too
   * (`layers` lists the removed snapshots' chain IDs). A layer a container's snapshot still builds on
   * stays until that container is gone (then `gc()` takes it).
   */
  async remove(refOrId: string): Promise<{ removed: ImageRecord; blobs: Digest[]; layers: string[] }> {
    const record = await this.get(refOrId);
    await fsp.rm(this.recordPath(record.name), { force: true });
    const { blobs, layers } = await this.collect(record);
    return { removed: record, blobs, layers };
  }

  private async collect(gone: ImageRecord): Promise<{ blobs: Digest[]; layers: string[] }> {
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    for (const r of await this.list()) {
      for (const d of [r.target, r.manifest, r.config, ...r.layers]) keepBlobs.add(d.digest);
      for (const c of chainIds(r.diffIds)) keepLayers.add(c);
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
    // Top layer first: a snapshot can go only when nothing builds on it.
    const layers: string[] = [];
    for (const c of chainIds(gone.diffIds).reverse()) {
      if (keepLayers.has(c) || !this.snapshotter.has(c)) continue;
      try {
        await this.snapshotter.remove(c);
        layers.push(c);
      } catch (err) {
        if (isFailedPrecondition(err)) break; // a container (or another image's layer) builds on it
        if (!isNotFound(err)) throw err;
      }
    }
    return { blobs, layers };
  }

  /**
   * Prepares a writable snapshot `key` for a container on an image's top layer (or on a committed
   * snapshot's name) and returns the mounts; the composer mounts them at the bundle's rootfs.
   */
  async prepareSnapshot(key: string, parent: string, opts: { labels?: Record<string, string> } = {}): Promise<MountDescriptor[]> {
    return this.snapshotter.prepare(key, await this.resolveParent(parent), opts);
  }

  /** A read-only view of an image's top layer (or of a committed snapshot). */
  async viewSnapshot(key: string, parent: string, opts: { labels?: Record<string, string> } = {}): Promise<MountDescriptor[]> {
    return this.snapshotter.view(key, await this.resolveParent(parent), opts);
  }

  /** A committed snapshot's name as given, or an image reference/id meaning its top layer's chain ID. */
  async resolveParent(parent: string): Promise<string> {
    if (this.snapshotter.has(parent)) return parent;
    let record: ImageRecord;
    try {
      record = await this.get(parent);
    } catch (err) {
      if (isNotFound(err) || isPodkitError(err)) {
        throw new NotFoundError(`parent "${parent}" is neither a snapshot nor a pulled image`, { details: { field: 'parent' }, cause: err });
      }
      throw err;
    }
    const top = chainIds(record.diffIds).pop();
    if (top === undefined || !this.snapshotter.has(top)) {
      throw new FailedPreconditionError(`image ${record.name} is not unpacked (pulled with --no-unpack?): pull it again to unpack its layers`, {
        details: { field: 'parent' },
      });
    }
    return top;
  }

  /** Mark-and-sweep garbage collection over content and snapshots (see gc/collect.ts). */
  gc(): Promise<GcReport> {
    return collectGarbage({ root: this.root, content: this.content, snapshotter: this.snapshotter, images: () => this.list() });
  }

  /** Gives an image a second name (`podimg tag`). */
  async tag(source: string, target: string): Promise<ImageRecord> {
    const record = await this.get(source);
    const name = formatReference(parseReference(target));
    const now = new Date().toISOString();
    const tagged: ImageRecord = { ...record, name, createdAt: now, updatedAt: now };
    await writeFileAtomic(this.recordPath(name), JSON.stringify(tagged, null, 2));
    return tagged;
  }

  /** Space used: content blobs and snapshots (committed layers, and containers' writable layers). */
  async df(): Promise<{ content: { blobs: number; bytes: number }; snapshots: { count: number; bytes: number; inodes: number; active: number } }> {
    const content = { blobs: 0, bytes: 0 };
    for await (const b of this.content.walk()) {
      content.blobs++;
      content.bytes += b.size;
    }
    const snapshots = { count: 0, bytes: 0, inodes: 0, active: 0 };
    for (const s of await this.snapshotter.walk()) {
      const u = await this.snapshotter.usage(s.name).catch(() => ({ size: 0, inodes: 0 }));
      snapshots.count++;
      snapshots.bytes += u.size;
      snapshots.inodes += u.inodes;
      if (s.kind !== 'committed') snapshots.active++;
    }
    return { content, snapshots };
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
