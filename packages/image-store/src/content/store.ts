/**
 * A content-addressed blob store, after containerd's content store (core/content/content.go).
 *
 * Layout under the root:
 *   blobs/<alg>/<hex>             committed blobs (read-only files)
 *   labels/<alg>/<hex>.json       labels of a blob (atomic writes)
 *   ingest/<sha256(ref)>/         one ingestion: `ref`, `data`, `lock` (owner pid)
 *
 * Writes are ingestions named by a ref. An ingestion survives a crash (its `data` stays) and a later
 * writer for the same ref resumes at its end. Commit checks the expected size and digest, fsyncs the
 * data, renames it into blobs/ and fsyncs the directory: a blob is invisible until committed. One
 * writer per ref at a time (a lock file holds the owner's pid; a lock of a dead process is taken over).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError, invalidField } from '@podkit/errdefs';
import { Digest, Digester, parseDigest } from '@podkit/oci-spec';
import { exists, fsyncDir, pidAlive, pollUntil, readJsonOrUndefined, writeFileAtomic } from '../fsutil';

export type Labels = Record<string, string>;

/** Bytes gathered before a write to the data file; exported for the pull, which hands over whole batches. */
export const WRITE_BATCH = 1024 * 1024;

export interface BlobInfo {
  digest: Digest;
  size: number;
  createdAt: Date;
  labels: Labels;
}

export interface IngestionStatus {
  ref: string;
  offset: number;
  /** Pid of the writer holding the ingestion, if it is alive. */
  owner?: number;
  updatedAt: Date;
}

export interface WriterOptions {
  /** Expected digest and size: checked at commit, and the writer refuses bytes beyond the size. */
  expected?: { digest: string; size?: number };
  /** Wait (polling) up to this long for another writer of the same ref; 0 fails at once with Unavailable. */
  waitMs?: number;
}


/** An open ingestion. Write, then commit (or close to keep it for later, or abort to drop it). */
export class ContentWriter {
  private digester = new Digester();
  /** Bytes in the ingestion, batched ones included. */
  private bytes = 0;
  /** Set by delegate(): the caller writes and hashes, commit() needs its digest and size. */
  private external = false;
  private closed = false;
  /** Small writes gather here (allocated on the first one: a pull hands over whole batches). */
  private batchBuf: Buffer | undefined;
  private batchBytes = 0;
  /** Bytes in the data file (the rest of `offset` waits in the batch). */
  private flushed = 0;

  constructor(
    readonly ref: string,
    private readonly dir: string,
    private fh: fsp.FileHandle,
    private readonly store: ContentStore,
    private readonly expected: WriterOptions['expected'],
    private readonly release: () => Promise<void>,
  ) {}

  /** Bytes already in the ingestion (where a resumed download continues). */
  get offset(): number {
    return this.bytes;
  }

  /** The ingestion file's descriptor (for delegate()). */
  get fd(): number {
    return this.fh.fd;
  }

  /**
   * Hands the rest of the blob to the caller: it appends the bytes after `offset` to the ingestion
   * file itself (through `fd`, at their positions) and hashes the whole blob, the bytes already there
   * included, exactly as written; write() must not be called again, and commit() takes the caller's
   * digest and size as `computed`. The pull uses it when the native layer pipe extracts a layer.
   */
  delegate(): void {
    if (this.batchBytes > 0) throw new FailedPreconditionError(`ingestion ${this.ref}: delegate() with unflushed bytes`);
    this.external = true;
  }

  /** Hashes the bytes an earlier writer left behind (resume after a crash). */
  async _resume(): Promise<void> {
    const st = await this.fh.stat();
    let size = st.size;
    if (this.expected?.size !== undefined && size > this.expected.size) {
      // More than the blob can hold: the ingestion is garbage, start over.
      await this.fh.truncate(0);
      size = 0;
    }
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      this.digester.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    this.flushed = pos;
    this.bytes = pos;
  }

  /** The bytes already in the ingestion (a resumed download replays them to an extractor). */
  async *readPrefix(): AsyncGenerator<Buffer> {
    await this.flush();
    const end = this.offset;
    let pos = 0;
    while (pos < end) {
      const buf = Buffer.allocUnsafe(Math.min(256 * 1024, end - pos));
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) throw new DataLossError(`ingestion ${this.ref}: data ended at ${pos} of ${end} bytes`);
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  }

  async write(chunk: Buffer | Uint8Array): Promise<void> {
    if (this.closed) throw new FailedPreconditionError(`ingestion ${this.ref}: write after close`);
    if (this.external) throw new FailedPreconditionError(`ingestion ${this.ref}: write after delegate()`);
    if (this.expected?.size !== undefined && this.offset + chunk.byteLength > this.expected.size) {
      throw new DataLossError(`ingestion ${this.ref}: more than the expected ${this.expected.size} bytes`, { details: { field: 'size' } });
    }
    this.digester.update(chunk);
    this.bytes += chunk.byteLength;
    const src = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.batchBytes === 0 && src.length >= WRITE_BATCH) {
      // Already batch-sized (a pull hands over whole batches): written as is, no copy. The caller's
      // buffer is free again once write() resolves, as with the copy.
      await this.writeAt(src);
      return;
    }
    // Network chunks are small (16-64 KiB): copy them into a 1 MiB batch and write that (the copy
    // also frees callers to reuse their buffer as soon as write() returns).
    const batch = (this.batchBuf ??= Buffer.allocUnsafe(WRITE_BATCH));
    let off = 0;
    while (off < src.length) {
      const n = src.copy(batch, this.batchBytes, off);
      this.batchBytes += n;
      off += n;
      if (this.batchBytes === batch.length) await this.flush();
    }
  }

  /** Writes the batched bytes at the end of the data file. */
  async flush(): Promise<void> {
    if (this.batchBuf === undefined || this.batchBytes === 0) return;
    await this.writeAt(this.batchBuf.subarray(0, this.batchBytes));
    this.batchBytes = 0;
  }

  /** Appends `buf` to the data file (after what is flushed). */
  private async writeAt(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, this.flushed);
      off += bytesWritten;
      this.flushed += bytesWritten;
    }
  }

  /** Drops everything written so far (the source restarted from byte 0). */
  async truncate(): Promise<void> {
    this.batchBytes = 0;
    this.flushed = 0;
    await this.fh.truncate(0);
    this.digester = new Digester();
    this.bytes = 0;
  }

  /**
   * Verifies size and digest, then makes the blob visible atomically. Committing a blob that already
   * exists succeeds and drops the ingestion.
   */
  async commit(size?: number, digest?: string, labels?: Labels, computed?: { digest: Digest; size: number }): Promise<Digest> {
    if (this.external) {
      if (computed === undefined) throw new FailedPreconditionError(`ingestion ${this.ref}: delegated, but commit was given no digest`, { details: { field: 'computed' } });
      const st = await this.fh.stat();
      if (st.size !== computed.size) throw new DataLossError(`ingestion ${this.ref}: the file holds ${st.size} bytes, the delegate wrote ${computed.size}`, { details: { field: 'size' } });
      this.bytes = this.flushed = computed.size;
    }
    await this.flush();
    const wantSize = size ?? this.expected?.size;
    const wantDigest = digest ?? this.expected?.digest;
    if (wantSize !== undefined && this.offset !== wantSize) {
      throw new FailedPreconditionError(`ingestion ${this.ref}: size ${this.offset} does not match the expected ${wantSize}`, { details: { field: 'size' } });
    }
    const got = this.external && computed !== undefined ? computed.digest : this.digester.digest();
    if (wantDigest !== undefined && got !== wantDigest) {
      await this.abort();
      throw new DataLossError(`ingestion ${this.ref}: digest ${got} does not match the expected ${wantDigest}`, { details: { field: 'digest' } });
    }
    await this.fh.sync();
    await this.fh.chmod(0o444);
    await this.fh.close();
    this.closed = true;
    const target = this.store.blobPath(got);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    if (await exists(target)) {
      await fsp.rm(this.dir, { recursive: true, force: true });
    } else {
      await fsp.rename(path.join(this.dir, 'data'), target);
      await fsyncDir(path.dirname(target));
      await fsp.rm(this.dir, { recursive: true, force: true });
    }
    await this.release();
    if (labels && Object.keys(labels).length > 0) await this.store.setLabels(got, labels);
    return got;
  }

  /** Closes the writer and keeps the ingestion, so a later writer resumes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => undefined);
    this.closed = true;
    await this.fh.close();
    await this.release();
  }

  /** Closes the writer and removes the ingestion. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await fsp.rm(this.dir, { recursive: true, force: true });
    await this.release();
  }
}

export class ContentStore {
  private readonly held = new Set<string>();

  constructor(readonly root: string) {}

  static async open(root: string): Promise<ContentStore> {
    for (const d of ['blobs/sha256', 'labels/sha256', 'ingest']) await fsp.mkdir(path.join(root, d), { recursive: true, mode: 0o700 });
    return new ContentStore(root);
  }

  blobPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest);
    return path.join(this.root, 'blobs', algorithm, encoded);
  }

  private labelsPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest);
    return path.join(this.root, 'labels', algorithm, `${encoded}.json`);
  }

  private ingestDir(ref: string): string {
    if (typeof ref !== 'string' || ref.length === 0) throw invalidField('ref', 'must be a non-empty string');
    return path.join(this.root, 'ingest', crypto.createHash('sha256').update(ref).digest('hex'));
  }

  async has(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  async info(digest: string): Promise<BlobInfo> {
    let st: fs.Stats;
    try {
      st = await fsp.stat(this.blobPath(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`content ${digest}: not found`, { details: { field: 'digest' } });
      throw err;
    }
    const labels = (await readJsonOrUndefined<Labels>(this.labelsPath(digest))) ?? {};
    return { digest: digest as Digest, size: st.size, createdAt: st.mtime, labels };
  }

  /** Replaces the labels of a blob (an empty set removes them). */
  async setLabels(digest: string, labels: Labels): Promise<void> {
    if (!(await this.has(digest))) throw new NotFoundError(`content ${digest}: not found`);
    for (const [k, v] of Object.entries(labels)) {
      if (k.length === 0 || k.length > 4096 || typeof v !== 'string') throw invalidField(`labels.${k}`, 'must be a non-empty key with a string value');
    }
    if (Object.keys(labels).length === 0) await fsp.rm(this.labelsPath(digest), { force: true });
    else await writeFileAtomic(this.labelsPath(digest), JSON.stringify(labels));
  }

  /** Reads a whole blob, refusing one larger than `maxSize` (manifests, configs). */
  async readBlob(digest: string, maxSize = 4 * 1024 * 1024): Promise<Buffer> {
    const info = await this.info(digest);
    if (info.size > maxSize) throw new InvalidArgumentError(`content ${digest}: ${info.size} bytes exceeds the limit of ${maxSize}`, { details: { field: 'size' } });
    return fsp.readFile(this.blobPath(digest));
  }

  /** A stream of a committed blob. */
  async readStream(digest: string, start = 0): Promise<fs.ReadStream> {
    await this.info(digest);
    return fs.createReadStream(this.blobPath(digest), { start, highWaterMark: 256 * 1024 });
  }

  /** Every committed blob (optionally those whose labels match all of `labels`). */
  async *walk(filter?: { labels?: Labels }): AsyncGenerator<BlobInfo> {
    const base = path.join(this.root, 'blobs');
    for (const alg of await fsp.readdir(base)) {
      for (const hex of await fsp.readdir(path.join(base, alg))) {
        let info: BlobInfo;
        try {
          info = await this.info(`${alg}:${hex}`);
        } catch {
          continue; // removed meanwhile, or not a blob name
        }
        if (filter?.labels && !Object.entries(filter.labels).every(([k, v]) => info.labels[k] === v)) continue;
        yield info;
      }
    }
  }

  /** Removes a committed blob and its labels. */
  async delete(digest: string): Promise<void> {
    const p = this.blobPath(digest);
    try {
      await fsp.unlink(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`content ${digest}: not found`);
      throw err;
    }
    await fsp.rm(this.labelsPath(digest), { force: true });
  }

  private async tryLock(ref: string, dir: string): Promise<boolean> {
    if (this.held.has(ref)) return false;
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const lock = path.join(dir, 'lock');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fsp.writeFile(lock, String(process.pid), { flag: 'wx' });
        this.held.add(ref);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = parseInt(await fsp.readFile(lock, 'utf8').catch(() => ''), 10);
      if (owner === process.pid || pidAlive(owner)) return false;
      // The owner died (kill -9): take the ingestion over. Rename first so two takers cannot both win.
      const stale = `${lock}.stale.${process.pid}`;
      await fsp.rename(lock, stale).then(
        () => fsp.rm(stale, { force: true }),
        () => undefined,
      );
    }
    return false;
  }

  /**
   * Opens (or resumes) the ingestion `ref`. Throws Unavailable when another writer holds it and
   * `waitMs` passes; when the expected digest is committed meanwhile, throws AlreadyExists-free:
   * callers check `has()` after a wait.
   */
  async writer(ref: string, opts: WriterOptions = {}): Promise<ContentWriter> {
    if (opts.expected) parseDigest(opts.expected.digest, 'expected.digest');
    const dir = this.ingestDir(ref);
    const got = await pollUntil(async () => ((await this.tryLock(ref, dir)) ? true : undefined), opts.waitMs ?? 0);
    if (!got) throw new UnavailableError(`ingestion ${ref} is locked by another writer`, { details: { field: 'ref', ref } });
    const release = async (): Promise<void> => {
      if (!this.held.delete(ref)) return;
      await fsp.rm(path.join(dir, 'lock'), { force: true });
    };
    try {
      await fsp.writeFile(path.join(dir, 'ref'), ref);
      const fh = await fsp.open(path.join(dir, 'data'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
      const w = new ContentWriter(ref, dir, fh, this, opts.expected, release);
      await w._resume();
      return w;
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** Ingestions in progress or left behind by a crash. */
  async ingestions(): Promise<IngestionStatus[]> {
    const out: IngestionStatus[] = [];
    const base = path.join(this.root, 'ingest');
    for (const name of await fsp.readdir(base)) {
      const dir = path.join(base, name);
      const ref = await fsp.readFile(path.join(dir, 'ref'), 'utf8').catch(() => undefined);
      if (ref === undefined) continue;
      const st = await fsp.stat(path.join(dir, 'data')).catch(() => undefined);
      const owner = parseInt(await fsp.readFile(path.join(dir, 'lock'), 'utf8').catch(() => ''), 10);
      out.push({ ref, offset: st?.size ?? 0, updatedAt: st?.mtime ?? new Date(0), ...(pidAlive(owner) ? { owner } : {}) });
    }
    return out;
  }

  /** Removes an ingestion nobody holds. */
  async abortIngestion(ref: string): Promise<void> {
    const w = await this.writer(ref);
    await w.abort();
  }

  /** Stores a small in-memory blob (manifests, configs), verifying it when `digest` is given. */
  async putBlob(data: Buffer, digest?: string, labels?: Labels): Promise<Digest> {
    const want = digest ?? new Digester().update(data).digest();
    if (await this.has(want)) {
      if (labels) await this.setLabels(want, { ...(await this.info(want)).labels, ...labels });
      return want as Digest;
    }
    const w = await this.writer(`put-${want}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`, { expected: { digest: want, size: data.length } });
    try {
      await w.write(data);
      return await w.commit(data.length, want, labels);
    } catch (err) {
      await w.abort();
      throw err;
    }
  }
}
